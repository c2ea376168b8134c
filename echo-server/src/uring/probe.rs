//! What the io_uring loop needs of the kernel, looked at once at start: the operations
//! (io_uring's own probe), the setup flags (a ring built with them), a buffer ring (one
//! registered), and the multishot forms, which no probe reports, tried on a ring like the
//! loop's (by the kernel's release where none can be built).
//! [`check`] gives the line printed on stderr, or the error naming the first missing feature
//! and the Linux release that brought it. One feature is optional, and tried rather than
//! read from the release: without a cap on what a multishot receive takes ([`recv_cap`])
//! the loop still runs, and the line says what a client that never reads may then hold.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use hostkit::kernel::{major_minor, release};
use io_uring::{opcode, IoUring, Probe};

use super::sys;

/// A feature the loop uses and the first Linux release that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// IORING_OP_ACCEPT, RECV, SEND, ASYNC_CANCEL, POLL_ADD.
    Ops,
    /// IORING_FEAT_FAST_POLL: a socket op that would block waits on the socket's poll.
    FastPoll,
    /// IORING_FEAT_EXT_ARG: a wait for completions with a timeout.
    ExtArg,
    /// IORING_REGISTER_PBUF_RING.
    BufferRings,
    /// IORING_ACCEPT_MULTISHOT.
    MultishotAccept,
    /// IORING_RECV_MULTISHOT.
    MultishotRecv,
    /// IORING_SETUP_SINGLE_ISSUER.
    SingleIssuer,
    /// IORING_SETUP_DEFER_TASKRUN.
    DeferTaskrun,
    /// A multishot receive's byte cap (`optlen`): optional, see [`recv_cap`].
    RecvCap,
}

impl Feature {
    /// Every feature, in the order they are judged (and printed).
    const ALL: [Feature; 8] = [
        Feature::Ops,
        Feature::FastPoll,
        Feature::ExtArg,
        Feature::MultishotAccept,
        Feature::MultishotRecv,
        Feature::BufferRings,
        Feature::SingleIssuer,
        Feature::DeferTaskrun,
    ];

    fn name(self) -> &'static str {
        match self {
            Feature::Ops => "accept, send, recv, poll and cancel operations",
            Feature::FastPoll => "fast poll",
            Feature::ExtArg => "timed waits (ext arg)",
            Feature::BufferRings => "buffer rings",
            Feature::MultishotAccept => "multishot accept",
            Feature::MultishotRecv => "multishot recv",
            Feature::SingleIssuer => "single issuer",
            Feature::DeferTaskrun => "defer taskrun",
            Feature::RecvCap => "multishot recv cap",
        }
    }

    /// The Linux release (major, minor) that brought it.
    fn since(self) -> (u32, u32) {
        match self {
            Feature::Ops => (5, 6),
            Feature::FastPoll => (5, 7),
            Feature::ExtArg => (5, 11),
            Feature::BufferRings | Feature::MultishotAccept => (5, 19),
            Feature::MultishotRecv | Feature::SingleIssuer => (6, 0),
            Feature::DeferTaskrun => (6, 1),
            Feature::RecvCap => (6, 17),
        }
    }
}

/// What the running kernel showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// `/proc/sys/kernel/osrelease` (e.g. `6.18.0-1-amd64`), if readable.
    pub(crate) release: Option<String>,
    /// The features the kernel has.
    pub(crate) present: Vec<Feature>,
}

/// What the loop may hold for a client that never reads, in KiB, for the line's note on a
/// kernel without the receive cap: with the cap, one receive's cap; without, the whole ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holds {
    /// The loop's ring of provided buffers.
    pub(crate) ring_kib: u32,
    /// One multishot receive's cap and the one buffer it may overshoot by.
    pub(crate) cap_kib: u32,
}

/// The verdict on what was found: `Ok` the line to print, `Err` the first missing feature,
/// named with the release it needs and the fix.
pub(crate) fn verdict(found: &Found, holds: Holds) -> Result<String, String> {
    let release = found.release.as_deref().unwrap_or("an unknown release");
    if let Some(missing) = Feature::ALL.iter().find(|f| !found.present.contains(f)) {
        let (major, minor) = missing.since();
        return Err(format!(
            "io_uring: {} needs Linux {major}.{minor}; this kernel is {release}. Fix: a newer \
             kernel, or --io epoll",
            missing.name()
        ));
    }
    // The operations and the timed wait are the plumbing; the line names what matters.
    let mut shown: Vec<&str> = Feature::ALL[3..].iter().map(|f| f.name()).collect();
    let without_cap = if found.present.contains(&Feature::RecvCap) {
        shown.push(Feature::RecvCap.name());
        String::new()
    } else {
        let (major, minor) = Feature::RecvCap.since();
        format!(
            "; no {} (Linux {major}.{minor}): a client that never reads may hold up to \
             {} KiB of heap, not {} KiB",
            Feature::RecvCap.name(),
            holds.ring_kib,
            holds.cap_kib,
        )
    };
    Ok(format!(
        "io_uring: {}, fast poll (Linux {release}){without_cap}",
        shown.join(", ")
    ))
}

/// Whether this kernel caps a multishot receive at a byte count (Linux 6.17), tried on a
/// ring like the loop's: a receive capped at one byte, with two bytes waiting on a socket
/// pair, must end at once (no IORING_CQE_F_MORE) having read them; a kernel without the
/// cap refuses it (EINVAL). So a kernel that has it under an older release number (a
/// backport) is seen, and one that reports a newer release without it is not trusted.
/// Tried once per process: the start-up check and every loop ask.
pub(crate) fn recv_cap() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(try_recv_cap)
}

/// [`recv_cap`]'s trial: a receive capped at one byte.
fn try_recv_cap() -> bool {
    trial_ring(1)
        .and_then(|mut ring| receive_two_bytes(&mut ring))
        .is_some_and(|c| c.result > 0 && !c.more())
}

/// Multishot accept and multishot receive, each tried on a ring like the loop's: an
/// accept armed on a listening socket with a connection waiting, and a receive with two
/// bytes waiting on a socket pair, must each complete and stay armed
/// (IORING_CQE_F_MORE); a kernel without the flag refuses the operation (EINVAL). `None`
/// where no ring like the loop's can be built (before Linux 6.1).
fn try_multishot() -> Option<(bool, bool)> {
    let (mut for_accept, mut for_recv) = (trial_ring(0)?, trial_ring(0)?);
    Some((
        try_accept_multi(&mut for_accept),
        receive_two_bytes(&mut for_recv).is_some_and(|c| c.result == 2 && c.more()),
    ))
}

/// A small ring like the loop's, enabled on this thread, whose receives end after `cap`
/// bytes (0: never); `None` where the kernel cannot build one.
fn trial_ring(cap: u32) -> Option<sys::Uring> {
    let ring = sys::Uring::new(8, 2, 4096, cap).ok()?;
    ring.enable().ok()?;
    Some(ring)
}

/// [`try_multishot`]'s accept: on a listening Unix socket (abstract, so nothing is left on
/// disk and no network is needed) with one connection waiting.
fn try_accept_multi(ring: &mut sys::Uring) -> bool {
    static TRIED: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "echo-server-probe-{}-{}",
        std::process::id(),
        TRIED.fetch_add(1, Ordering::Relaxed)
    );
    let Ok(addr) = SocketAddr::from_abstract_name(name) else {
        return false;
    };
    let Ok(listener) = UnixListener::bind_addr(&addr) else {
        return false;
    };
    let Ok(_client) = UnixStream::connect_addr(&addr) else {
        return false;
    };
    ring.accept_multi(listener.as_raw_fd(), 0);
    // The completion owns the accepted descriptor: dropped here, it closes it.
    first_completion(ring).is_some_and(|c| c.result >= 0 && c.more())
}

/// The first completion of a multishot receive armed on `ring` with two bytes waiting on a
/// socket pair: what the receive trials judge.
fn receive_two_bytes(ring: &mut sys::Uring) -> Option<sys::Completion> {
    let (mine, theirs) = UnixStream::pair().ok()?;
    (&theirs).write_all(b"ab").ok()?;
    ring.recv_multi(mine.as_raw_fd(), 0);
    first_completion(ring)
}

/// The first completion of what was pushed on `ring`, waiting up to a second (any others
/// are dropped, closing what they accepted).
fn first_completion(ring: &mut sys::Uring) -> Option<sys::Completion> {
    let mut out = Vec::new();
    ring.submit_and_wait(Some(Duration::from_secs(1)), &mut out)
        .ok()?;
    out.into_iter().next()
}

/// Looks at the kernel: `Ok` the features line, `Err` why the io_uring loop cannot run here.
pub(crate) fn check(holds: Holds) -> Result<String, String> {
    verdict(&look().map_err(|why| format!("io_uring: {why}"))?, holds)
}

/// Gathers what [`verdict`] judges; `Err` when io_uring itself is unusable (absent or
/// disabled), which no feature list can say.
fn look() -> Result<Found, String> {
    let release = release();
    let plain = IoUring::new(8).map_err(|e| unusable(&e))?;
    let mut present = Vec::new();
    let mut probe = Probe::new();
    let ops = [
        opcode::Accept::CODE,
        opcode::Recv::CODE,
        opcode::Send::CODE,
        opcode::AsyncCancel::CODE,
        opcode::PollAdd::CODE,
    ];
    if plain.submitter().register_probe(&mut probe).is_ok()
        && ops.iter().all(|&op| probe.is_supported(op))
    {
        present.push(Feature::Ops);
    }
    let params = plain.params();
    if params.is_feature_fast_poll() {
        present.push(Feature::FastPoll);
    }
    if params.is_feature_ext_arg() {
        present.push(Feature::ExtArg);
    }
    // Multishot accept and recv are flags of ACCEPT and RECV, which no probe lists: tried
    // where a ring like the loop's can be built, else read from the release (the loop
    // cannot run there anyway, and the verdict names what its ring lacks, not these).
    let version = release.as_deref().and_then(major_minor);
    let by_release = |f: Feature| version.is_some_and(|v| v >= f.since());
    let (accept, recv) = try_multishot().unwrap_or_else(|| {
        (
            by_release(Feature::MultishotAccept),
            by_release(Feature::MultishotRecv),
        )
    });
    if accept {
        present.push(Feature::MultishotAccept);
    }
    if recv {
        present.push(Feature::MultishotRecv);
    }
    if recv_cap() {
        present.push(Feature::RecvCap);
    }
    if IoUring::<io_uring::squeue::Entry>::builder()
        .setup_single_issuer()
        .build(8)
        .is_ok()
    {
        present.push(Feature::SingleIssuer);
    }
    let ring = IoUring::<io_uring::squeue::Entry>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(8);
    if let Ok(ring) = ring {
        present.push(Feature::DeferTaskrun);
        if sys::buffer_ring_works(&ring) {
            present.push(Feature::BufferRings);
        }
    } else if sys::buffer_ring_works(&plain) {
        present.push(Feature::BufferRings);
    }
    Ok(Found { release, present })
}

/// Why io_uring cannot be used at all, with the fix.
fn unusable(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::ENOSYS) => "this kernel has no io_uring (io_uring_setup: ENOSYS; Linux 5.1 \
                               built with CONFIG_IO_URING, and no seccomp filter blocking it). \
                               Fix: --io epoll"
            .into(),
        Some(libc::EPERM) => {
            let setting = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .map(|s| format!(" (it is {})", s.trim()))
                .unwrap_or_default();
            format!(
                "io_uring is disabled here (io_uring_setup: EPERM): the sysctl \
                 kernel.io_uring_disabled{setting} or a seccomp filter forbids it. Fix: \
                 sysctl -w kernel.io_uring_disabled=0, or --io epoll"
            )
        }
        _ => format!("io_uring_setup failed: {err}. Fix: --io epoll"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLDS: Holds = Holds {
        ring_kib: 1024,
        cap_kib: 144,
    };

    fn found(release: &str, without: &[Feature]) -> Found {
        Found {
            release: Some(release.into()),
            present: Feature::ALL
                .iter()
                .chain(&[Feature::RecvCap])
                .copied()
                .filter(|f| !without.contains(f))
                .collect(),
        }
    }

    #[test]
    fn every_feature_present_prints_one_line_naming_them() {
        let line = verdict(&found("6.18.0", &[]), HOLDS).expect("all present");
        assert_eq!(
            line,
            "io_uring: multishot accept, multishot recv, buffer rings, single issuer, \
             defer taskrun, multishot recv cap, fast poll (Linux 6.18.0)"
        );
    }

    #[test]
    fn a_kernel_without_the_receive_cap_runs_and_says_what_that_costs() {
        let line = verdict(&found("6.12.0", &[Feature::RecvCap]), HOLDS).expect("optional");
        assert!(
            line.ends_with(
                "fast poll (Linux 6.12.0); no multishot recv cap (Linux 6.17): a client that \
                 never reads may hold up to 1024 KiB of heap, not 144 KiB"
            ),
            "{line}"
        );
    }

    #[test]
    fn a_missing_feature_is_named_with_the_release_it_needs() {
        let cases = [
            (Feature::MultishotRecv, "multishot recv needs Linux 6.0"),
            (Feature::DeferTaskrun, "defer taskrun needs Linux 6.1"),
            (Feature::BufferRings, "buffer rings needs Linux 5.19"),
            (Feature::SingleIssuer, "single issuer needs Linux 6.0"),
        ];
        for (missing, says) in cases {
            let why = verdict(&found("5.15.0", &[missing]), HOLDS).expect_err("refused");
            assert!(why.contains(says), "{why}");
            assert!(
                why.contains("5.15.0") && why.contains("--io epoll"),
                "{why}"
            );
        }
    }

    /// Trying the cap finds it exactly where the release says the kernel has it (on a
    /// kernel with a backport the two would differ, and this would say so).
    #[test]
    fn the_receive_cap_is_found_by_trying_it() {
        if IoUring::new(2).is_err() {
            eprintln!("SKIPPED: io_uring is not usable here (disabled, or a seccomp filter)");
            return;
        }
        assert_eq!(
            recv_cap(),
            hostkit::kernel::release_at_least(Feature::RecvCap.since())
        );
    }

    /// The multishot forms tried on this kernel agree with its release; on a kernel that
    /// cannot build the loop's ring (before 6.1) they are not tried.
    #[test]
    fn the_multishot_forms_are_found_by_trying_them() {
        if IoUring::new(2).is_err() {
            eprintln!("SKIPPED: io_uring is not usable here (disabled, or a seccomp filter)");
            return;
        }
        let at_least = hostkit::kernel::release_at_least;
        let expected = at_least(Feature::DeferTaskrun.since()).then(|| {
            (
                at_least(Feature::MultishotAccept.since()),
                at_least(Feature::MultishotRecv.since()),
            )
        });
        assert_eq!(try_multishot(), expected);
    }

    #[test]
    fn a_disabled_io_uring_names_the_sysctl() {
        let why = unusable(&io::Error::from_raw_os_error(libc::EPERM));
        assert!(why.contains("kernel.io_uring_disabled"), "{why}");
        let why = unusable(&io::Error::from_raw_os_error(libc::ENOSYS));
        assert!(why.contains("CONFIG_IO_URING"), "{why}");
    }
}
