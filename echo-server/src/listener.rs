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
    if let Some(bytes) = rcvbuf {
        socket
            .set_recv_buffer_size(bytes)
            .map_err(|e| context(e, "SO_RCVBUF"))?;
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| context(e, format_args!("cannot listen on {addr}")))?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    socket
        .listen(backlog)
        .map_err(|e| context(e, format_args!("listen({addr})")))?;
    Ok(socket.into())
}
