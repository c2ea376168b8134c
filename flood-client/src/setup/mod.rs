//! Getting a run ready on this box, below the modes that use it: whether it fits
//! (`preflight`: descriptors, ports, source addresses), the server under test started and
//! stopped (`spawn`), what the system and that server did while it ran (`sample`), and
//! whether the outputs can be written (`outputs`), all before the first connection.

pub(crate) mod outputs;
pub(crate) mod preflight;
pub(crate) mod sample;
pub(crate) mod spawn;
