//! A test server that crosses echoes: it accepts connections in pairs and sends each one's
//! bytes to the other, as a server that mixed up its buffers would. A client passes against
//! it only if two of its connections send the same bytes, which verification must rule out.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// Starts a crossing server on 127.0.0.1:0 and returns its address and how many connections
/// it has accepted. The first two connections it accepts are crossed with each other, the
/// next two with each other, and so on; it runs until the test process ends.
pub fn crossing_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    thread::spawn(move || {
        let mut incoming = (listener.incoming().map_while(Result::ok))
            .inspect(|_| _ = counter.fetch_add(1, Ordering::SeqCst));
        while let (Some(a), Some(b)) = (incoming.next(), incoming.next()) {
            // Cross only once both have sent: each then has bytes in flight when the other's
            // arrive, so each checks them (rather than seeing bytes it never sent).
            let mut byte = [0u8; 1];
            if a.peek(&mut byte).is_ok() && b.peek(&mut byte).is_ok() {
                relay(&a, &b);
                relay(&b, &a);
            }
        }
    });
    (addr, accepted)
}

/// Copies everything `from` sends to `to` on a thread of its own; `from`'s EOF becomes a
/// FIN on `to`.
fn relay(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}
