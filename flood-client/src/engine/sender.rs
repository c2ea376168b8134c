//! How a connection's chunks reach its socket.
//!
//! A send is a list of pieces of the pattern's pages (`verifier.rs`). `write` copies them
//! into the socket (writev). `splice` (Linux, the default there) maps the pages into one
//! pipe per loop with vmsplice(2) and splices the pipe into the socket: the kernel sends
//! page references, nothing is copied on the way out, and the only copy left on the client
//! is reading the echo back to verify it. This is safe because the pattern is never written
//! after it is built and outlives the run.
//!
//! The pipe is empty between sends: bytes the socket did not take are read back out and
//! sent again later (rare: the window keeps far less in flight than a socket buffer holds).
//! If the pipe cannot be made or the kernel refuses the splice, the loop writes instead.
//! Sends shorter than [`SPLICE_MIN`] are written in either mode: below a page, copying
//! costs less than splice's second system call and the pinning (and the receiver's
//! handling of page-fragment packets costs more than of a small linear one).

use std::io::{self, IoSlice, Write};

use mio::net::TcpStream;

/// Page size assumed when sizing the pipe (only costs a larger pipe if it is smaller).
#[cfg(target_os = "linux")]
const PAGE: usize = 4096;

/// How chunks are sent (`--send`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SendMode {
    /// write(2): one copy per byte sent.
    Write,
    /// vmsplice(2) + splice(2) through a pipe: no copy (Linux; elsewhere it writes).
    Splice,
}

impl SendMode {
    /// The default: splice where the kernel has it.
    pub(crate) const DEFAULT: SendMode = if cfg!(target_os = "linux") {
        SendMode::Splice
    } else {
        SendMode::Write
    };

    /// The flag's spelling.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SendMode::Write => "write",
            SendMode::Splice => "splice",
        }
    }
}

/// One loop's way of sending; see the module documentation.
#[derive(Debug)]
pub(crate) struct Sender {
    mode: SendMode,
    #[cfg(target_os = "linux")]
    pipe: Option<hostkit::pipe::Pipe>,
    /// Why this loop writes although splice was asked for.
    fell_back: Option<String>,
}

impl Sender {
    /// A sender for `mode` whose sends may be up to `batch` bytes long; a splice sender
    /// that cannot make its pipe writes instead.
    pub(crate) fn new(mode: SendMode, batch: usize) -> Sender {
        let mut sender = Sender {
            mode,
            #[cfg(target_os = "linux")]
            pipe: None,
            fell_back: None,
        };
        if mode == SendMode::Splice {
            #[cfg(target_os = "linux")]
            match hostkit::pipe::Pipe::new() {
                Ok(pipe) => {
                    pipe.grow(batch + PAGE); // An unaligned batch spans one more page.
                    sender.pipe = Some(pipe);
                }
                Err(e) => sender.fell_back = Some(format!("no pipe for splice ({e})")),
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = batch; // Only sizes the pipe.
                sender.fell_back = Some("splice needs Linux".to_string());
            }
        }
        sender
    }

    /// How this loop sent, for the report: the mode's name, or `write (why)` when it had
    /// to write although splice was asked for.
    pub(crate) fn describe(&self) -> String {
        match &self.fell_back {
            Some(why) => format!("write ({why})"),
            None => self.mode.name().to_string(),
        }
    }

    /// Sends a prefix of the bytes of `data`'s pieces, like `writev`: how many bytes the
    /// socket took, or an error (`WouldBlock` when it took none). `scratch` is only used to
    /// empty the pipe.
    pub(crate) fn send(
        &mut self,
        stream: &TcpStream,
        data: &[IoSlice<'_>],
        scratch: &mut [u8],
    ) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        if let Some(pipe) = self.pipe.as_ref().filter(|_| splice_pays(data)) {
            let (result, emptied) = splice_send(pipe, stream, data, scratch);
            let refused = matches!(&result, Err(e) if unsupported(e));
            if refused || !emptied {
                // A pipe that still holds bytes would prepend them to the next connection's
                // send: never use it again.
                self.fell_back = Some(match &result {
                    Err(e) if refused => format!("the kernel refused splice ({e})"),
                    _ => "a splice pipe could not be emptied".to_string(),
                });
                self.pipe = None;
            }
            if !refused {
                return result;
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = scratch; // Only used to empty the splice pipe.
        let mut stream = stream;
        match data {
            // One piece (every send within a page, as small messages are): send(2), which
            // skips writev's vector import and the file layer.
            [one] => stream.write(one),
            _ => stream.write_vectored(data),
        }
    }
}

/// Sends shorter than this are written even in splice mode: copying a few KiB costs less
/// than splice's second system call and the page pinning of vmsplice.
#[cfg(target_os = "linux")]
const SPLICE_MIN: usize = 4096;

/// Whether a send of `data`'s pieces is long enough to splice (see [`SPLICE_MIN`]).
#[cfg(target_os = "linux")]
fn splice_pays(data: &[IoSlice<'_>]) -> bool {
    let mut len = 0;
    data.iter().any(|piece| {
        len += piece.len();
        len >= SPLICE_MIN
    })
}

/// One spliced send: what it did, and whether the pipe is empty again.
#[cfg(target_os = "linux")]
fn splice_send(
    pipe: &hostkit::pipe::Pipe,
    stream: &TcpStream,
    data: &[IoSlice<'_>],
    scratch: &mut [u8],
) -> (io::Result<usize>, bool) {
    let loaded = match pipe.load(data) {
        Ok(n) => n,
        Err(e) => return (Err(e), true), // Nothing went in.
    };
    let (sent, failed) = match pipe.drain(stream, loaded) {
        Ok(n) => (n, None),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => (0, None),
        Err(e) => (0, Some(e)),
    };
    let emptied = sent == loaded || pipe.discard_bytes(loaded - sent, scratch).is_ok();
    let result = match failed {
        Some(e) => Err(e),
        None if sent == 0 => Err(io::ErrorKind::WouldBlock.into()),
        None => Ok(sent),
    };
    (result, emptied)
}

/// Errors that mean "this kernel or socket cannot splice", not "this connection failed".
#[cfg(target_os = "linux")]
fn unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EFAULT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    /// Sends 8 MiB to a reader that only drains when the socket is full, so sends come back
    /// partial and WouldBlock: every byte must arrive once, in order (nothing left behind in
    /// the pipe, nothing sent twice).
    fn full_socket_keeps_order(mode: SendMode) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let std_stream = std::net::TcpStream::connect(addr).expect("connect");
        let (mut peer, _) = listener.accept().expect("accept");
        std_stream.set_nonblocking(true).expect("nonblocking");
        let stream = TcpStream::from_std(std_stream);
        let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let mut sender = Sender::new(mode, 256 * 1024);
        let mut scratch = vec![0u8; 64 * 1024];
        let (mut sent, mut got, mut would_block) = (0, Vec::new(), 0);
        let mut buf = vec![0u8; 1 << 20];
        peer.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < data.len() {
            assert!(
                Instant::now() < deadline,
                "stuck at {} of {} bytes",
                got.len(),
                data.len()
            );
            let end = (sent + 256 * 1024).min(data.len());
            let piece = [IoSlice::new(&data[sent..end])];
            let full = sent == end
                || match sender.send(&stream, &piece, &mut scratch) {
                    Ok(n) => {
                        sent += n;
                        false
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        would_block += 1;
                        true
                    }
                    Err(e) => panic!("send: {e}"),
                };
            if full {
                let n = peer.read(&mut buf).expect("read");
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert!(would_block > 0, "the socket never filled up");
        assert_eq!(sent, data.len());
        assert!(got == data, "bytes lost, repeated or reordered");
        if mode == SendMode::Splice && cfg!(target_os = "linux") {
            assert_eq!(sender.describe(), "splice");
        }
    }

    #[test]
    fn splice_send_keeps_every_byte_in_order() {
        full_socket_keeps_order(SendMode::Splice);
    }

    #[test]
    fn write_send_keeps_every_byte_in_order() {
        full_socket_keeps_order(SendMode::Write);
    }
}
