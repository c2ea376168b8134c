//! Client ports: how a client that binds its source address keeps the ephemeral port range
//! from running out early.

/// IP_BIND_ADDRESS_NO_PORT on a client socket about to be bound to a source address (Linux,
/// IPv4; nothing elsewhere): the port is then chosen at connect() for the whole 4-tuple,
/// instead of bind() reserving it for every destination. Failure is harmless (older
/// kernels): bind then reserves the port as usual.
pub fn bind_address_no_port(socket: &socket2::Socket) {
    crate::sys::bind_address_no_port(socket);
}
