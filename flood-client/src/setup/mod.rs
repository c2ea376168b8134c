//! Getting a run ready on this box, below the modes that use it: whether it fits
//! (`preflight`: descriptors, ports, source addresses), the server under test started and
//! stopped (`spawn`), what the system and that server did while it ran (`sample`), and
//! whether the outputs can be written (`outputs`), where each end's kernel work runs
//! (`placement`), all before the first connection.

use std::fmt;

pub(crate) mod outputs;
pub(crate) mod placement;
pub(crate) mod preflight;
pub(crate) mod sample;
pub(crate) mod spawn;

/// A run refused before it started, for a reason the user can fix (the message names the
/// fix): the program exits 2, as for any usage error, not 1 as for a failure.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Refused {
    /// The refusal as an I/O error of `kind`, for callers that return `io::Result`.
    pub(crate) fn error(kind: std::io::ErrorKind, why: impl Into<String>) -> std::io::Error {
        std::io::Error::new(kind, Refused(why.into()))
    }

    /// Whether `e` is a refusal.
    pub(crate) fn is(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Refused>())
    }
}
