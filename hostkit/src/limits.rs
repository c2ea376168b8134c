//! Process and kernel limits that decide how many connections one process can hold, and
//! what the kernel grants of a socket buffer request.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, SockRef, Socket, Type};

use crate::units::human_bytes;
use crate::{context, sys};

/// Descriptors a process keeps for itself (stdio, epoll, listeners, wakers, pipes).
pub const RESERVED_FDS: u64 = 64;

/// The most processes a `--processes` flag takes (echo-server's and flood-client's), so the
/// most a fix in [`capacity_problem`] may name.
pub const MAX_PROCESSES: u64 = 1024;

/// The open-file limits of this process after [`raise_nofile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the ceiling an unprivileged process can raise the soft limit to).
    pub hard: u64,
}

impl FdLimit {
    /// How many sockets this process can open beside its own reserved descriptors.
    pub fn socket_capacity(&self) -> u64 {
        self.soft.saturating_sub(RESERVED_FDS)
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (bounded by `fs.nr_open` when the hard
/// limit is infinite) and returns the result.
pub fn raise_nofile() -> io::Result<FdLimit> {
    let (mut soft, hard) = sys::nofile().map_err(|e| context(e, "getrlimit(RLIMIT_NOFILE)"))?;
    let target = if sys::is_infinite(hard) {
        read_u64("/proc/sys/fs/nr_open").unwrap_or(1 << 20)
    } else {
        hard
    };
    if soft < target && sys::set_nofile(target, hard).is_ok() {
        soft = target;
    }
    Ok(FdLimit { soft, hard: target })
}

/// The kernel's clamp on listen backlogs, `net.core.somaxconn`, where it can be read.
pub fn somaxconn() -> Option<u64> {
    read_u64("/proc/sys/net/core/somaxconn")
}

/// Reads a single unsigned number from a file such as one under `/proc/sys`.
pub fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A warning when the kernel granted `socket` less receive buffer than the `asked` SO_RCVBUF,
/// naming the limit and the fix; `None` when it granted all of it. Linux caps requests at
/// `net.core.rmem_max` and reports double what it grants (the other half is bookkeeping).
pub(crate) fn receive_buffer_shortfall(socket: SockRef<'_>, asked: usize) -> Option<String> {
    let reported = socket.recv_buffer_size().ok()?;
    let granted = if cfg!(target_os = "linux") {
        reported / 2
    } else {
        reported
    };
    (granted < asked).then(|| {
        format!(
            "receive buffer of {} asked, the kernel granted {} (net.core.rmem_max caps it; \
             raise it with scripts/tune-kernel.sh apply)",
            human_bytes(asked as u64),
            human_bytes(granted as u64)
        )
    })
}

/// True for the accept/connect errors that mean "out of descriptors or kernel memory".
pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The one-line explanation printed when `wanted` connections need more descriptors than
/// `processes` processes with `limit` each can hold. `None` when they fit.
pub fn capacity_problem(wanted: u64, processes: u64, limit: FdLimit) -> Option<String> {
    let per_process = limit.socket_capacity();
    if wanted <= per_process * processes.max(1) {
        return None;
    }
    if per_process == 0 {
        // No number of processes helps: name the limit that would, never the setting in use.
        let each = wanted.div_ceil(processes.max(1));
        return Some(format!(
            "the open-file limit (RLIMIT_NOFILE) is {soft} per process (hard limit {hard}), no \
             more than the {RESERVED_FDS} descriptors each process keeps for itself, so no \
             number of processes can hold a connection (a server started beside the client \
             inherits the same limit). Fix: raise the limit to at least {need} (ulimit -n \
             {need}, or scripts/raise-limits.sh where the kernel allows it).",
            soft = limit.soft,
            hard = limit.hard,
            need = RESERVED_FDS + each,
        ));
    }
    let needed = wanted.div_ceil(per_process);
    let most = per_process * MAX_PROCESSES;
    let raise = "raise the hard limit with scripts/raise-limits.sh where the kernel allows it";
    // Past what the most processes the flag takes can hold, name what they do hold and the
    // limit that would serve the count, never a process count the flag refuses.
    let (beyond, fix) = match needed {
        n if n < MAX_PROCESSES => (
            String::new(),
            format!("use --processes {n} (or more), or {raise}"),
        ),
        MAX_PROCESSES => (
            String::new(),
            format!("use --processes {MAX_PROCESSES} (the most it takes), or {raise}"),
        ),
        _ => (
            format!(", and {MAX_PROCESSES}, the most --processes takes, at most {most}"),
            format!(
                "ask for at most {most} connections, or raise the hard limit to at least \
                 {need} (scripts/raise-limits.sh, where the kernel allows it) and use \
                 --processes {MAX_PROCESSES}",
                need = RESERVED_FDS + wanted.div_ceil(MAX_PROCESSES),
            ),
        ),
    };
    Some(format!(
        "{wanted} connections need {wanted} descriptors, but the open-file limit (RLIMIT_NOFILE) \
         is {soft} per process (hard limit {hard}), so {processes} process(es) hold at most \
         {cap}{beyond}. Fix: {fix}.",
        soft = limit.soft,
        hard = limit.hard,
        cap = per_process * processes.max(1),
    ))
}

/// [`receive_buffer_shortfall`] of a fresh socket for `target`'s address family that asks
/// for `asked`: what every socket this process sets `asked` on is granted, known without
/// one to hand (a parent whose workers hold the listeners). `None` when all of it is.
pub fn receive_buffer_note(target: SocketAddr, asked: usize) -> Option<String> {
    let socket = Socket::new(Domain::for_address(target), Type::STREAM, None).ok()?;
    socket.set_recv_buffer_size(asked).ok()?;
    receive_buffer_shortfall(SockRef::from(&socket), asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity() {
        let limit = FdLimit {
            soft: 20_000,
            hard: 20_000,
        };
        assert!(capacity_problem(10_000, 1, limit).is_none());
        let msg = capacity_problem(32_768, 1, limit).expect("too many for one process");
        assert!(msg.contains("--processes 2"), "{msg}");
        assert!(msg.contains("20000"), "{msg}");
        assert!(capacity_problem(32_768, 2, limit).is_none());
    }

    /// A count past what the most processes `--processes` takes can hold names what they
    /// do hold and the limit that would serve it, never a process count the flag refuses.
    #[test]
    fn no_fix_names_more_processes_than_the_flag_takes() {
        let limit = FdLimit {
            soft: 20_000,
            hard: 20_000,
        };
        let most = 19_936 * MAX_PROCESSES;
        let msg = capacity_problem(most, 1, limit).expect("needs the most");
        assert!(
            msg.contains("use --processes 1024 (the most it takes)") && !msg.contains("(or more)"),
            "{msg}"
        );
        for wanted in [most + 1, 30_000_000, 99_999_999_999] {
            let msg = capacity_problem(wanted, 1, limit).expect("more than fits");
            assert!(
                msg.contains(&format!("ask for at most {most} connections")),
                "{msg}"
            );
            let need = RESERVED_FDS + wanted.div_ceil(MAX_PROCESSES);
            assert!(msg.contains(&format!("at least {need} ")), "{msg}");
            assert!(!msg.contains("(or more)"), "{msg}");
        }
    }

    #[test]
    fn a_limit_below_the_reserve_asks_for_a_higher_limit_not_more_processes() {
        let limit = FdLimit { soft: 30, hard: 30 };
        let msg = capacity_problem(20, 20, limit).expect("nothing fits");
        assert!(!msg.contains("--processes"), "{msg}");
        assert!(msg.contains("ulimit -n 65"), "{msg}");
    }

    #[test]
    fn raise_reports_soft_at_most_hard() {
        let limit = raise_nofile().expect("getrlimit works");
        assert!(limit.soft <= limit.hard);
    }
}
