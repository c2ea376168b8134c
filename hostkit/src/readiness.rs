//! What edge-triggered readiness promises on this platform.

/// On Linux a read shorter than the buffer means the socket was empty at that instant, and
/// edge-triggered epoll signals every later arrival, so the read that would only return
/// WouldBlock can be skipped (a third of the syscalls of a 32 KiB echo). The exceptions are
/// a FIN or RST queued behind the data before the event was reported, and a read that
/// stopped at an urgent mark: no later event comes for the bytes behind them, so once an
/// event says the peer is closing (or sent urgent data) reads go on to WouldBlock.
/// Elsewhere mio does not promise this, so reads always go on until WouldBlock.
pub const SHORT_READ_DRAINS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Whether a write to `fd` would not block now (a terminal, a file, a pipe with room for a
/// line): what a server checks before a log or stats line, so a reader that stopped reading
/// without closing its end costs it that line, not its service.
pub fn writable_now(fd: &impl std::os::fd::AsRawFd) -> bool {
    crate::sys::writable_now(fd.as_raw_fd())
}
