//! The data path of one event loop: the [`scheduler`] opens its share of the connections
//! ([`socket`]), waits at the [`gate`] until every loop of every process is connected, then
//! drives each [`connection`]: its [`sender`] writes chunks of the [`verifier`]'s pattern,
//! and the echo read back is checked byte for byte. [`live`] counters show progress while
//! it runs and [`intervals`] records it interval by interval; the loop's result is a
//! `report::Report`.

pub(crate) mod connection;
pub(crate) mod gate;
pub(crate) mod intervals;
pub(crate) mod live;
pub(crate) mod scheduler;
pub(crate) mod sender;
pub(crate) mod socket;
pub(crate) mod verifier;
