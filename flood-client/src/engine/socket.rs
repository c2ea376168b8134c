//! A client socket, set up before connect: what the kernel must know before the handshake.

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

/// A non-blocking socket with TCP_NODELAY and the receive buffer asked for (set before
/// connect, so the window scale is chosen for it), bound to `source` if given, connecting to
/// `target`.
pub(crate) fn open_socket(
    target: SocketAddr,
    source: Option<IpAddr>,
    rcvbuf: Option<usize>,
) -> io::Result<TcpStream> {
    // Non-blocking from the start where socket(2) takes the flag (SOCK_NONBLOCK): two
    // fcntl calls fewer per connection, which counts at a churn's connect rate.
    #[cfg(target_os = "linux")]
    let kind = Type::STREAM.nonblocking();
    #[cfg(not(target_os = "linux"))]
    let kind = Type::STREAM;
    let socket = Socket::new(Domain::for_address(target), kind, Some(Protocol::TCP))?;
    #[cfg(not(target_os = "linux"))]
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(bytes) = rcvbuf {
        socket.set_recv_buffer_size(bytes)?;
    }
    if let Some(ip) = source {
        if ip.is_ipv4() {
            hostkit::ports::bind_address_no_port(&socket);
        }
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}
