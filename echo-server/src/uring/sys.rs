//! Every `unsafe` of the io_uring loop, each behind a safe function with its SAFETY comment.
//!
//! What makes them safe is ownership: the memory an operation reads or writes belongs to
//! [`Uring`] until the kernel says it is done with it.
//! - The buffer ring and its buffers are one mapping owned by [`BufRing`], which outlives the
//!   ring (the fields of [`Uring`] drop the ring first). A buffer is either the kernel's (in
//!   the ring) or ours (taken by a completion, until [`Uring::give`]); only ours are read.
//! - Bytes a send reads are either our ring buffers (held until that send's completion),
//!   listed in a message header and vector that [`Uring`] owns until the completion, or a
//!   `Vec` moved into [`Uring`] for the send and moved back out by its completion
//!   ([`Uring::take_sent`]).
//! - Every other operation (accept, poll, cancel) points at no memory of ours.
//!
//! And what the kernel gives us is owned as soon as it is reaped: the descriptor an accept
//! made belongs to its [`Completion`] (closed with it unless [`Completion::take_accepted`]
//! takes it). Only accepts carry [`ACCEPT_TAG`] in their user data, so no other result (a
//! byte count, say) can become a descriptor of ours.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};

/// The buffer group of the loop's one buffer ring.
const GROUP: u16 = 0;

/// The most ring buffers one send takes (one vector entry each).
pub(crate) const SEND_PIECES: usize = 16;

/// The user data bit of accepts: [`Uring::accept_multi`] sets it and every other push
/// clears it, so a completion carrying it is an accept's, whose non-negative result is a
/// descriptor the kernel made for us. Callers never see it: a completion comes back with the
/// user data its operation was pushed with.
const ACCEPT_TAG: u64 = 1 << 63;

/// Message headers kept for reuse (more are freed: a burst of sends leaves no lasting
/// memory behind).
const SPARE_MSGS: usize = 64;

/// What a send in flight owns until its completion.
#[derive(Debug)]
enum Lent {
    /// Bytes copied to the heap.
    Heap(Vec<u8>),
    /// The header and vector of a send of ring buffers (the buffers are held by the
    /// connection).
    Msg(Box<Msg>),
}

/// A sendmsg(2) header and the vector it points to, in one allocation that does not move
/// while the kernel may read it.
#[repr(C)]
struct Msg {
    hdr: libc::msghdr,
    iov: [libc::iovec; SEND_PIECES],
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Msg({} pieces)", self.hdr.msg_iovlen)
    }
}

// SAFETY: a `Msg` holds only addresses of itself and of the buffer mapping, both owned by
// the `Uring` it lives in; moving it to another thread (with the ring, before the ring is
// enabled there) moves the only access to them.
unsafe impl Send for Msg {}

impl Msg {
    fn new() -> Box<Msg> {
        // SAFETY: msghdr and iovec are plain C structs for which all zeroes (null pointers,
        // zero lengths) is a valid value.
        unsafe { Box::new(std::mem::zeroed()) }
    }
}

/// One completion, copied out of the completion queue; an accept's also owns the
/// descriptor it made, until [`Completion::take_accepted`] (dropped with it, it is closed).
#[derive(Debug)]
pub(crate) struct Completion {
    /// Which operation (the user data it was pushed with).
    pub(crate) data: u64,
    /// Its result: bytes, a descriptor (an accept's, owned by `accepted`), or a negative
    /// errno.
    pub(crate) result: i32,
    /// IORING_CQE_F_* flags: more to come, the buffer used.
    pub(crate) flags: u32,
    /// The descriptor a successful accept made.
    accepted: Option<OwnedFd>,
}

impl Completion {
    /// The descriptor a successful accept made, once: `None` for any other completion, a
    /// failed accept, or one already taken.
    pub(crate) fn take_accepted(&mut self) -> Option<OwnedFd> {
        self.accepted.take()
    }

    /// Whether a multishot operation stays armed after this completion.
    pub(crate) fn more(&self) -> bool {
        cqueue::more(self.flags)
    }

    /// The ring buffer the kernel filled for this completion, if any.
    pub(crate) fn buffer(&self) -> Option<u16> {
        cqueue::buffer_select(self.flags)
    }
}

/// A ring (SINGLE_ISSUER and DEFER_TASKRUN, built disabled: [`Uring::enable`] on the thread
/// that uses it makes that thread its only submitter), its one ring of provided buffers,
/// and what in-flight sends own.
pub(crate) struct Uring {
    /// Dropped first: the kernel lets go of every buffer before they are unmapped.
    ring: IoUring,
    bufs: BufRing,
    /// Bytes after which a multishot receive ends by itself (0: never).
    recv_cap: u32,
    /// What sends in flight own, by their operation's user data.
    sending: HashMap<u64, Lent>,
    /// Message headers of finished sends, for the next ones: boxed, since what is kept is
    /// the allocation whose address the next send gives the kernel.
    #[allow(clippy::vec_box)]
    spare_msgs: Vec<Box<Msg>>,
    /// Entries waiting for room in the submission queue.
    waiting: VecDeque<squeue::Entry>,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring")
            .field("ring_fd", &self.ring.as_raw_fd())
            .field("bufs", &self.bufs)
            .field("sends_in_flight", &self.sending.len())
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

impl Uring {
    /// A ring of `entries` submissions (completions 8 times as many) and `buffers` provided
    /// buffers of `buffer_size` bytes each (a power of two count, at most 32,768), whose
    /// multishot receives end after `recv_cap` bytes (0: never; see [`Uring::recv_multi`]).
    pub(crate) fn new(
        entries: u32,
        buffers: u16,
        buffer_size: u32,
        recv_cap: u32,
    ) -> io::Result<Uring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_r_disabled()
            .setup_cqsize(entries * 8)
            .build(entries)?;
        let bufs = BufRing::new(&ring, buffers, buffer_size)?;
        Ok(Uring {
            ring,
            bufs,
            recv_cap,
            sending: HashMap::new(),
            spare_msgs: Vec::new(),
            waiting: VecDeque::new(),
        })
    }

    /// Enables the ring, on the thread that will submit to it from now on.
    pub(crate) fn enable(&self) -> io::Result<()> {
        self.ring.submitter().register_enable_rings()
    }

    /// Queues `entry`, an operation other than an accept, with user data `data`.
    fn push(&mut self, entry: squeue::Entry, data: u64) {
        self.waiting.push_back(entry.user_data(untagged(data)));
    }

    /// Multishot accept on `listener` (a blocking listener: the ring waits for connections);
    /// each connection comes as a completion owning its descriptor
    /// ([`Completion::take_accepted`]). Cancelled by [`Uring::cancel_accept`].
    pub(crate) fn accept_multi(&mut self, listener: RawFd, data: u64) {
        // A plain descriptor, not a slot in a registered file table: its number is the
        // result `submit_and_wait` adopts.
        let e = opcode::AcceptMulti::new(Fd(listener))
            .flags(libc::SOCK_CLOEXEC)
            .build();
        self.waiting
            .push_back(e.user_data(untagged(data) | ACCEPT_TAG));
    }

    /// One-shot poll for `fd` readable.
    pub(crate) fn poll_readable(&mut self, fd: RawFd, data: u64) {
        let e = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32).build();
        self.push(e, data);
    }

    /// Multishot receive on `fd` into the buffer ring.
    ///
    /// With a `recv_cap` above 0 (see [`Uring::new`]) the receive ends by itself (a
    /// completion without IORING_CQE_F_MORE) once it has taken that many bytes,
    /// overshooting by less than one buffer (Linux 6.17; older kernels refuse it with
    /// EINVAL): what the kernel may receive for the connection before the loop sees a
    /// completion is then bounded by that, not by the free buffers (a multishot receive
    /// fills up to 32 per issue).
    pub(crate) fn recv_multi(&mut self, fd: RawFd, data: u64) {
        let e = opcode::RecvMulti::new(Fd(fd), GROUP).build();
        self.push(with_optlen(e, self.recv_cap), data);
    }

    /// Sends bytes `start..end` of each of our ring buffers `(bid, start, end)` in `pieces`
    /// (at most [`SEND_PIECES`]), in order, in one sendmsg without waiting (a plain send for
    /// one piece, which needs no message header): the completion comes at once with what
    /// the socket took (or -EAGAIN). A piece that is not ours ends the list there; nothing
    /// is sent if the first is not.
    pub(crate) fn send_buffers(&mut self, fd: RawFd, pieces: &[(u16, u32, u32)], data: u64) {
        let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        if let [piece] = *pieces {
            let Some(bytes) = self.held_piece(piece) else {
                return;
            };
            let e = opcode::Send::new(Fd(fd), bytes.as_ptr(), bytes.len() as u32)
                .flags(flags)
                .build();
            self.push(e, data);
            return;
        }
        let mut msg = self.spare_msgs.pop().unwrap_or_else(Msg::new);
        let mut count = 0;
        for &piece in pieces.iter().take(SEND_PIECES) {
            let Some(bytes) = self.held_piece(piece) else {
                break;
            };
            msg.iov[count] = libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            };
            count += 1;
        }
        if count == 0 {
            self.spare_msgs.push(msg);
            return;
        }
        msg.hdr.msg_iov = msg.iov.as_mut_ptr();
        msg.hdr.msg_iovlen = count as _;
        let e = opcode::SendMsg::new(Fd(fd), &msg.hdr)
            .flags(flags as u32)
            .build();
        self.push(e, data);
        self.sending.insert(data, Lent::Msg(msg));
    }

    /// Bytes `start..end` of our ring buffer `bid`, or `None` if it is not ours or the range
    /// is not in it.
    fn held_piece(&self, (bid, start, end): (u16, u32, u32)) -> Option<&[u8]> {
        self.bufs.held(bid)?.get(start as usize..end as usize)
    }

    /// Sends `bytes[from..]`, waiting for room; the bytes stay here until the completion,
    /// and [`Uring::take_sent`] gives them back. One such send per `data` at a time.
    pub(crate) fn send_owned(&mut self, fd: RawFd, bytes: Vec<u8>, from: usize, data: u64) {
        let rest = &bytes[from.min(bytes.len())..];
        let e = opcode::Send::new(Fd(fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        self.push(e, data);
        self.sending.insert(data, Lent::Heap(bytes));
    }

    /// Once the completion of the send `data` arrived: the heap bytes it was lent, if it
    /// was a send of heap bytes.
    pub(crate) fn take_sent(&mut self, data: u64) -> Option<Vec<u8>> {
        match self.sending.remove(&data)? {
            Lent::Heap(bytes) => Some(bytes),
            Lent::Msg(msg) => {
                if self.spare_msgs.len() < SPARE_MSGS {
                    self.spare_msgs.push(msg);
                }
                None
            }
        }
    }

    /// Cancels the operation pushed with user data `target` (an accept:
    /// [`Uring::cancel_accept`]).
    pub(crate) fn cancel(&mut self, target: u64, data: u64) {
        let e = opcode::AsyncCancel::new(target).build();
        self.push(e, data);
    }

    /// Cancels the accept pushed with user data `target`.
    pub(crate) fn cancel_accept(&mut self, target: u64, data: u64) {
        self.cancel(target | ACCEPT_TAG, data);
    }

    /// Submits what was pushed and waits up to `timeout` (`None`: no limit) for at least one
    /// completion; then the completions are in `out`. A wait that timed out or was
    /// interrupted is not an error.
    pub(crate) fn submit_and_wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Completion>,
    ) -> io::Result<()> {
        self.bufs.publish();
        {
            let mut sq = self.ring.submission();
            while let Some(entry) = self.waiting.front() {
                // SAFETY: every entry points only at memory this struct owns until the
                // operation completes (see the module comment): ring buffers we hold, the
                // Vecs and message headers in `sending`, or none at all.
                if unsafe { sq.push(entry) }.is_err() {
                    break;
                }
                self.waiting.pop_front();
            }
        }
        // More to submit than the queue held: do not sleep, come back for the rest.
        let timeout = if self.waiting.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let result = match timeout {
            Some(t) => {
                let ts = Timespec::from(t);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submitter().submit_and_wait(1),
        };
        match result {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
            // Completions must be reaped before more can be submitted.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {}
            Err(e) => return Err(e),
        }
        out.extend(self.ring.completion().map(|cqe| {
            let (data, result) = (cqe.user_data(), cqe.result());
            let accepted = (data & ACCEPT_TAG != 0 && result >= 0).then(|| {
                // SAFETY: only `accept_multi` pushes the tag (`push` clears it), and only
                // what is pushed here completes on this ring (its descriptor is the
                // IoUring's, lent to no other ring that could post to it). So this is an
                // accept's result: a plain descriptor the kernel just made for us, which no
                // one else owns or closes, reaped once (the queue hands out each entry
                // once); the Completion owns it from here.
                unsafe { OwnedFd::from_raw_fd(result) }
            });
            Completion {
                data: data & !ACCEPT_TAG,
                result,
                flags: cqe.flags(),
                accepted,
            }
        }));
        Ok(())
    }

    /// Marks ring buffer `bid` ours: a completion said the kernel filled it.
    pub(crate) fn took(&mut self, bid: u16) {
        self.bufs.took(bid);
    }

    /// The first `len` bytes of ring buffer `bid`, if it is ours.
    pub(crate) fn buffer(&self, bid: u16, start: u32, end: u32) -> Option<&[u8]> {
        self.bufs.held(bid)?.get(start as usize..end as usize)
    }

    /// Hands ring buffer `bid` back to the kernel (seen at the next submit).
    pub(crate) fn give(&mut self, bid: u16) {
        self.bufs.give(bid);
    }

    /// Buffers the kernel has to receive into.
    pub(crate) fn free_buffers(&self) -> usize {
        self.bufs.free
    }
}

/// `data` without [`ACCEPT_TAG`], which callers' user data must leave to this module (a
/// caller's own use of the bit would be lost, not turn a result into a descriptor).
fn untagged(data: u64) -> u64 {
    debug_assert_eq!(
        data & ACCEPT_TAG,
        0,
        "user data {data:#x} has the accept tag"
    );
    data & !ACCEPT_TAG
}

/// Where the kernel's SQE keeps `optlen` (a union with `file_index` and `splice_fd_in`),
/// which for a multishot receive is its byte cap.
const SQE_OPTLEN: usize = 44;

/// `entry` with its `optlen` set to `value`: the io-uring crate (0.7) builds multishot
/// receives without one.
fn with_optlen(entry: squeue::Entry, value: u32) -> squeue::Entry {
    const _: () = assert!(std::mem::size_of::<squeue::Entry>() == 64);
    // SAFETY: `squeue::Entry` is `#[repr(C)]` around the kernel's 64-byte `io_uring_sqe`
    // (size checked above), whose fields are all plain integers (pointers are carried as
    // u64): every byte is initialised (the crate zeroes the SQE before filling it), and
    // every bit pattern is a valid Entry. Bytes 44..48 are `optlen` in the kernel's ABI
    // (include/uapi/linux/io_uring.h), which a test below checks against the crate's own
    // SetSockOpt.
    let mut raw: [u8; 64] = unsafe { std::mem::transmute(entry) };
    raw[SQE_OPTLEN..SQE_OPTLEN + 4].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: as above: any 64 initialised bytes are a valid Entry.
    unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) }
}

/// Whether a ring of provided buffers can be registered on `ring` (Linux 5.19).
pub(crate) fn buffer_ring_works(ring: &IoUring) -> bool {
    match BufRing::new(ring, 2, 4096) {
        Ok(bufs) => {
            let _ = ring.submitter().unregister_buf_ring(GROUP);
            drop(bufs);
            true
        }
        Err(_) => false,
    }
}

/// A ring of provided buffers: one anonymous mapping holding the ring's entries (its tail
/// shared with the kernel) followed by the buffers themselves, populated at start so
/// their memory is counted once and never grows.
#[derive(Debug)]
struct BufRing {
    base: *mut u8,
    map_len: usize,
    entries: u16,
    buffer_size: u32,
    /// Offset of the first buffer in the mapping.
    buffers_at: usize,
    /// Our tail: entries added so far (wrapping); published to the kernel by `publish`.
    tail: u16,
    /// Whether each buffer is ours (taken by a completion, not yet given back).
    ours: Vec<bool>,
    /// Buffers in the ring for the kernel to fill.
    free: usize,
}

// SAFETY: the mapping `base` points to is owned by this value alone (nothing else holds
// its address but the kernel, which is not a Rust thread), so moving the value to another
// thread, before the ring is enabled there, moves the only access to it.
unsafe impl Send for BufRing {}

impl BufRing {
    fn new(ring: &IoUring, entries: u16, buffer_size: u32) -> io::Result<BufRing> {
        if !entries.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer ring entries must be a power of two",
            ));
        }
        let page = 4096;
        let ring_len = (usize::from(entries) * 16).div_ceil(page) * page;
        let map_len = ring_len + usize::from(entries) * buffer_size as usize;
        // SAFETY: a fresh private anonymous mapping, at an address the kernel chooses; no
        // existing memory is affected. It is unmapped in `drop`.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut bufs = BufRing {
            base: base.cast(),
            map_len,
            entries,
            buffer_size,
            buffers_at: ring_len,
            tail: 0,
            ours: vec![true; usize::from(entries)],
            free: 0,
        };
        // SAFETY: the ring's entries start at `base`, page aligned, `entries` of them, and
        // the mapping lives until `drop`, which runs after the ring that uses it is gone
        // (`Uring` drops its ring first) or unregistered (`buffer_ring_works`).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.base as u64, entries, GROUP, 0)?;
        }
        for bid in 0..entries {
            bufs.give(bid);
        }
        bufs.publish();
        Ok(bufs)
    }

    fn took(&mut self, bid: u16) {
        if let Some(ours) = self.ours.get_mut(usize::from(bid)) {
            if !*ours {
                *ours = true;
                self.free -= 1;
            }
        }
    }

    fn held(&self, bid: u16) -> Option<&[u8]> {
        if !self.ours.get(usize::from(bid)).copied().unwrap_or(false) {
            return None;
        }
        let size = self.buffer_size as usize;
        let at = self.buffers_at + usize::from(bid) * size;
        // SAFETY: `bid` < entries, so the slice lies inside the mapping; the buffer is ours
        // (taken by a completion and not given back), so the kernel does not write it while
        // this borrow lives (it only fills buffers in the ring).
        Some(unsafe { std::slice::from_raw_parts(self.base.add(at), size) })
    }

    fn give(&mut self, bid: u16) {
        let Some(ours) = self.ours.get_mut(usize::from(bid)) else {
            return;
        };
        if !*ours {
            return;
        }
        *ours = false;
        self.free += 1;
        let size = self.buffer_size as usize;
        let slot = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `slot` < entries, so the entry lies in the ring part of the mapping; the
        // kernel reads entries only up to the published tail, and this one is past it.
        unsafe {
            let entry = self.base.cast::<io_uring::types::BufRingEntry>().add(slot);
            (*entry).set_addr(self.base.add(self.buffers_at + usize::from(bid) * size) as u64);
            (*entry).set_len(self.buffer_size);
            (*entry).set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Lets the kernel see the entries added since the last call.
    fn publish(&self) {
        // SAFETY: the tail is the 16-bit field at offset 14 of the first entry, inside the
        // mapping and 2-byte aligned; the kernel reads it with acquire ordering, and this
        // release store makes the entries written before it visible first.
        unsafe {
            let tail = io_uring::types::BufRingEntry::tail(self.base.cast()) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are the mapping made in `new`, unmapped once, here, after
        // the kernel stopped using it (see the SAFETY of the registration).
        unsafe {
            libc::munmap(self.base.cast(), self.map_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::IntoRawFd;
    use std::time::Instant;

    /// A small ring, enabled on this thread; `None` (the test skips) on a kernel that
    /// cannot build one (before Linux 6.1, or io_uring disabled).
    fn test_ring() -> Option<Uring> {
        if !hostkit::kernel::release_at_least((6, 1)) || IoUring::new(2).is_err() {
            eprintln!("skipped: no io_uring like the loop's here (Linux 6.1)");
            return None;
        }
        let ring = Uring::new(8, 2, 4096, 0).expect("ring");
        ring.enable().expect("enable");
        Some(ring)
    }

    /// A listener on 127.0.0.1 with one client connected, not yet accepted.
    fn waiting_connection() -> (TcpListener, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        (listener, client)
    }

    /// Completions of `ring` until `count` came, or 5 seconds passed.
    fn completions(ring: &mut Uring, count: usize) -> Vec<Completion> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut out = Vec::new();
        while out.len() < count && Instant::now() < deadline {
            ring.submit_and_wait(Some(Duration::from_millis(100)), &mut out)
                .expect("wait");
        }
        assert_eq!(out.len(), count, "completions in 5 s: {out:?}");
        out
    }

    /// A receive pushed with the very user data of an accept, whose byte count (2) is a
    /// descriptor's number too (stderr's), yields no descriptor; the accept's completion
    /// does, and comes back with the user data it was pushed with.
    #[test]
    fn only_an_accepts_completion_yields_a_descriptor() {
        let Some(mut ring) = test_ring() else {
            return;
        };
        let (listener, _client) = waiting_connection();
        let (mine, theirs) = std::os::unix::net::UnixStream::pair().expect("pair");
        (&theirs).write_all(b"ab").expect("write");
        ring.accept_multi(listener.as_raw_fd(), 7);
        ring.recv_multi(mine.as_raw_fd(), 7);
        for mut c in completions(&mut ring, 2) {
            assert_eq!(c.data, 7);
            let fd = c.take_accepted();
            if c.buffer().is_some() {
                assert_eq!(c.result, 2, "receive: {c:?}");
                // Released unclosed if given: stderr is not ours to close.
                let fd = fd.map(IntoRawFd::into_raw_fd);
                assert_eq!(fd, None, "a receive's byte count became a descriptor");
            } else {
                let fd = fd.as_ref().map(AsRawFd::as_raw_fd);
                assert_eq!(fd, Some(c.result), "the accept's descriptor: {c:?}");
            }
        }
    }

    /// An accept's completion dropped without its descriptor taken closes it: the client
    /// reads the end of the stream.
    #[test]
    fn an_accepted_descriptor_not_taken_is_closed_with_its_completion() {
        let Some(mut ring) = test_ring() else {
            return;
        };
        let (listener, mut client) = waiting_connection();
        ring.accept_multi(listener.as_raw_fd(), 7);
        let accepted = completions(&mut ring, 1);
        assert!(accepted[0].result >= 0, "accept: {accepted:?}");
        drop(accepted);
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // (read_to_end reads again after an interrupted read)
        let read = client.read_to_end(&mut Vec::new());
        assert!(
            matches!(read, Ok(0)),
            "the server's end is still open: {read:?}"
        );
    }

    /// [`Uring::cancel_accept`] reaches the accept pushed with that user data, which ends.
    #[test]
    fn an_accept_is_cancelled_by_its_user_data() {
        let Some(mut ring) = test_ring() else {
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        ring.accept_multi(listener.as_raw_fd(), 7);
        ring.cancel_accept(7, 8);
        let done = completions(&mut ring, 2);
        let accept = done.iter().find(|c| c.data == 7).expect("the accept's end");
        assert_eq!((accept.result, accept.more()), (-libc::ECANCELED, false));
    }

    fn bytes(entry: squeue::Entry) -> [u8; 64] {
        // SAFETY: see `with_optlen`: an Entry is 64 initialised bytes.
        unsafe { std::mem::transmute(entry) }
    }

    #[test]
    fn the_receive_cap_lands_where_the_crate_puts_optlen_and_nowhere_else() {
        let value = 0x0102_0304;
        let sockopt = opcode::SetSockOpt::new(Fd(3), 1, 2, std::ptr::null(), value).build();
        let at = SQE_OPTLEN..SQE_OPTLEN + 4;
        assert_eq!(bytes(sockopt)[at.clone()], value.to_ne_bytes());
        let plain = bytes(opcode::RecvMulti::new(Fd(7), GROUP).build().user_data(9));
        let capped = bytes(with_optlen(
            opcode::RecvMulti::new(Fd(7), GROUP).build().user_data(9),
            value,
        ));
        assert_eq!(capped[at.clone()], value.to_ne_bytes());
        for i in (0..64).filter(|i| !at.contains(i)) {
            assert_eq!(plain[i], capped[i], "byte {i}");
        }
    }
}
