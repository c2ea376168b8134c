//! The barrier between the connect phase and the stream phase: every loop of a process
//! arrives once its connections are up, the process opens the gate (after its parent says
//! `go`, for a worker), and every loop streams at once.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The barrier between the connect phase and the stream phase.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// Loops that finished connecting, and whether the gate is open.
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Gate {
    /// Waits up to `timeout` for `loops` loops to finish connecting; true when they have.
    pub(crate) fn wait_arrived(&self, loops: usize, timeout: Duration) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |s| s.0 < loops)
            .unwrap_or_else(|e| e.into_inner());
        state.0 >= loops
    }

    /// Lets every waiting loop start streaming.
    pub(crate) fn open(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.changed.notify_all();
    }

    /// Counts this loop as connected and blocks until the gate opens.
    pub(crate) fn arrive_and_wait(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += 1;
        self.changed.notify_all();
        while !state.1 {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}
