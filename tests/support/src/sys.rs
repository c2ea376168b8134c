//! The test support's only `unsafe` code: attaching to a TUN device, an ioctl std has no
//! wrapper for. Each call sits behind a safe function with its SAFETY comment.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

/// Creates the TUN device `name` (IP packets, no header before them: IFF_TUN | IFF_NO_PI)
/// and returns its file, non-blocking: a read takes one packet the kernel routed into the
/// device, a write hands one packet to the kernel as if it arrived on it. The device
/// lives as long as the file (and follows it into another namespace).
pub(crate) fn open_tun(name: &str) -> io::Result<File> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("TUN device name {name:?}: 1 to 15 bytes, no NUL"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/net/tun")
        .map_err(|e| io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")))?;
    // SAFETY: `ifreq` is plain data (byte arrays, integers, a raw pointer inside a union):
    // all zeros is a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: the descriptor is open for the whole call (`file` owns it); TUNSETIFF reads
    // and writes one `ifreq`, which `req` is, NUL-terminated (the name is shorter than
    // IFNAMSIZ and the rest is zero); the kernel keeps no pointer to it.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    Ok(file)
}
