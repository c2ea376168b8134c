//! Building the listening socket with socket2, so the backlog and SO_REUSEPORT are ours to set
//! (mio's own `TcpListener::bind` fixes the backlog at 128).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use hostkit::context;

/// Binds a non-blocking listener on `addr` with `backlog`.
///
/// `reuse_port` sets SO_REUSEPORT so several event loops or processes can each own a listener
/// on the same port and let the kernel spread new connections between them. `rcvbuf` sets
/// SO_RCVBUF before listen(), so every accepted connection inherits it and its window scale
/// is chosen for it.
pub(crate) fn bind(
    addr: SocketAddr,
    backlog: u32,
    reuse_port: bool,
    rcvbuf: Option<usize>,
) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| context(e, "socket()"))?;
    socket
        .set_reuse_address(true)
        .map_err(|e| context(e, "SO_REUSEADDR"))?;
    #[cfg(unix)]
    if reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(|e| context(e, "SO_REUSEPORT"))?;
    }
    // Urgent (MSG_OOB) bytes stay in line, so they are echoed in order like any other byte;
    // accepted connections inherit the flag.
    socket
        .set_out_of_band_inline(true)
        .map_err(|e| context(e, "SO_OOBINLINE"))?;
    // Without TCP_NODELAY a partial write waits for the peer's delayed ACK (40 ms). Linux
    // copies it from the listener to every connection accepted from it, which saves a
    // setsockopt per connection; elsewhere the loops set it on each one.
    #[cfg(target_os = "linux")]
    socket
        .set_tcp_nodelay(true)
        .map_err(|e| context(e, "TCP_NODELAY"))?;
    if let Some(bytes) = rcvbuf {
        socket
            .set_recv_buffer_size(bytes)
            .map_err(|e| context(e, "SO_RCVBUF"))?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into()).map_err(|e| {
        let fix = match e.kind() {
            io::ErrorKind::AddrInUse => format!(
                " (another process listens on port {}: stop it, or pick another port; port 0 \
                 takes any free one and the `listening on` line names it)",
                addr.port()
            ),
            io::ErrorKind::AddrNotAvailable => " (no interface of this machine has that \
                                                 address: 127.0.0.1 or ::1 for loopback, 0.0.0.0 \
                                                 for every interface)"
                .to_string(),
            _ => String::new(),
        };
        context(e, format_args!("cannot listen on {addr}{fix}"))
    })?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    socket
        .listen(backlog)
        .map_err(|e| context(e, format_args!("listen({addr})")))?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the loops count on instead of a setsockopt per connection (Linux) or do
    /// themselves (elsewhere): every accepted connection has TCP_NODELAY and SO_OOBINLINE.
    #[test]
    fn accepted_connections_have_nodelay_and_urgent_bytes_in_line() {
        let listener = bind("127.0.0.1:0".parse().expect("addr"), 8, false, None).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        let accepted = Socket::from(accepted);
        assert!(accepted.out_of_band_inline().expect("SO_OOBINLINE"));
        if cfg!(target_os = "linux") {
            assert!(accepted.tcp_nodelay().expect("TCP_NODELAY"));
        }
    }
}
