//! Deliberately broken echo servers, so every check a client makes can be shown to fail.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// A test-only echo server that misbehaves in one chosen way.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Echo, but flip one byte at this offset of every connection.
    Corrupt(usize),
    /// Echo this many bytes, then send FIN (and drain, so the close is not a reset).
    CloseAfter(usize),
    /// Read everything, echo nothing.
    Silent,
    /// Echo, then send one byte more than it got before closing.
    Extra,
    /// Echo every connection but the one accepted at this place (0: the first), which is
    /// [`Fault::Silent`]: one stuck connection among healthy ones.
    StallNth(usize),
}

impl Fault {
    /// The fault the connection accepted at place `nth` gets (`None`: a true echo).
    fn for_connection(self, nth: usize) -> Option<Fault> {
        match self {
            Fault::StallNth(stalled) if stalled == nth => Some(Fault::Silent),
            Fault::StallNth(_) => None,
            fault => Some(fault),
        }
    }
}

/// Starts a faulty echo server on 127.0.0.1:0 and returns its address.
pub fn faulty_server(fault: Fault) -> SocketAddr {
    faulty_server_counting(fault).0
}

/// [`faulty_server`], also returning how many connections have sent it at least one byte.
pub fn faulty_server_counting(fault: Fault) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let talking = Arc::new(AtomicUsize::new(0));
    let counter = talking.clone();
    thread::spawn(move || {
        for (nth, stream) in listener.incoming().map_while(Result::ok).enumerate() {
            let counter = counter.clone();
            let fault = fault.for_connection(nth);
            thread::spawn(move || serve_faulty(stream, fault, &counter));
        }
    });
    (addr, talking)
}

fn serve_faulty(mut s: TcpStream, fault: Option<Fault>, talking: &AtomicUsize) {
    let mut buf = [0u8; 16 * 1024];
    let mut at = 0usize;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if at == 0 {
            talking.fetch_add(1, Ordering::SeqCst);
        }
        let data = &mut buf[..n];
        match fault {
            Some(Fault::Corrupt(offset)) if (at..at + n).contains(&offset) => {
                data[offset - at] ^= 0x5a
            }
            Some(Fault::CloseAfter(limit)) if at + n >= limit => {
                let _ = s.write_all(&data[..limit - at]);
                let _ = s.shutdown(std::net::Shutdown::Write);
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                return;
            }
            Some(Fault::Silent) => {
                at += n;
                continue;
            }
            _ => {}
        }
        at += n;
        if s.write_all(data).is_err() {
            return;
        }
    }
    if let Some(Fault::Extra) = fault {
        let _ = s.write_all(b"!");
    }
}
