//! Every system call the workspace makes without a safe wrapper in std, mio or socket2, each
//! behind a safe function with its SAFETY comment. Linux-only calls say so with `cfg`; the
//! other platforms get the portable part (rlimits, signals, rusage) and a clear
//! `Unsupported` error where a Linux feature is asked for.
#![allow(unsafe_code)]

use std::io;
use std::process::Command;

/// The soft and hard RLIMIT_NOFILE.
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every platform.
pub(crate) fn nofile() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

/// Sets RLIMIT_NOFILE to `soft`/`hard`.
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every platform.
pub(crate) fn set_nofile(soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether RLIMIT_NOFILE's hard limit `hard` means "no limit".
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every platform.
pub(crate) fn is_infinite(hard: u64) -> bool {
    hard == libc::RLIM_INFINITY as u64
}

/// Sends `signal` to process `pid`.
pub(crate) fn kill(pid: u32, signal: i32) -> io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill() takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to every process of the group `pgid`.
pub(crate) fn kill_group(pgid: u32, signal: i32) -> io::Result<()> {
    let pgid = i32::try_from(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: as for kill(); a negative pid names a process group.
    if unsafe { libc::kill(-pgid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Has the child `cmd` starts get `signal` when its parent dies (Linux; elsewhere nothing).
pub(crate) fn die_with_parent(cmd: &mut Command, signal: i32) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the child between fork and exec; prctl is
        // async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (cmd, signal);
}

/// Lowers (or sets) the child's RLIMIT_NOFILE to `soft`/`hard` before exec.
pub(crate) fn child_nofile(cmd: &mut Command, soft: u64, hard: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec; setrlimit is
    // async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || set_nofile(soft, hard));
    }
}

/// Pins the calling thread's process (and what it starts later) to `cpu`.
pub(crate) fn set_affinity(cpu: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET (bounds checked above)
        // and sched_setaffinity only touch that set.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "CPU pinning needs Linux",
        ))
    }
}

/// Moves the calling thread into the network namespace bound at `path` (/run/netns/NAME);
/// threads and processes it starts afterwards are born there.
pub(crate) fn enter_netns(path: &std::path::Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let ns = std::fs::File::open(path)?;
        // SAFETY: the descriptor is open for the call (`ns` lives to the end of the block)
        // and CLONE_NEWNET only asks that it be a network namespace, which setns checks.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "network namespaces need Linux",
        ))
    }
}

/// Pins the child `cmd` starts to `cpu`, before exec.
pub(crate) fn pin_child(cmd: &mut Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec; sched_setaffinity is
    // async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || set_affinity(cpu));
    }
}

/// Clock ticks per second of /proc times (100 where sysconf cannot say).
pub(crate) fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// The memory page size (4096 where sysconf cannot say).
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        page as u64
    } else {
        4096
    }
}

/// User and system CPU time of this process, in microseconds.
pub(crate) fn self_cpu_us() -> u64 {
    // SAFETY: a zeroed rusage is valid; getrusage fills the struct we own.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// IP_BIND_ADDRESS_NO_PORT on an IPv4 socket (Linux): binding a source address then
/// reserves no port until connect(), which picks one unique for the whole 4-tuple. Failure
/// is harmless (older kernels): bind then reserves the port as usual.
pub(crate) fn bind_address_no_port(socket: &socket2::Socket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads an int we own for the duration of the call.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// unshare(CLONE_FILES): the calling thread's own copy of the descriptor table (Linux).
pub(crate) fn unshare_descriptors() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: unshare takes a flag word and changes only the calling thread's
        // descriptor table; every descriptor Rust holds stays valid in the copy.
        if unsafe { libc::unshare(libc::CLONE_FILES) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "a thread's own descriptor table needs Linux",
    ))
}

/// Whether a write to `fd` would not block now: poll(2) for POLLOUT with no wait. A pipe is
/// writable while it has a free page, enough for a line up to PIPE_BUF. An error or hang-up
/// also counts as "go ahead": the write then fails and says why.
pub(crate) fn writable_now(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `p` is one valid, initialised pollfd and the count passed is 1; a zero
    // timeout returns at once. An invalid fd is reported in `revents` (POLLNVAL), not UB.
    let ready = unsafe { libc::poll(&mut p, 1, 0) };
    ready != 0
}

#[cfg(target_os = "linux")]
pub(crate) use linux::*;

/// Pipes and splice, which only Linux has.
#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};

    /// A new non-blocking, close-on-exec pipe: (read end, write end).
    pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array we own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
    }

    /// A new non-blocking, close-on-exec timer descriptor on the monotonic clock, disarmed.
    pub(crate) fn timerfd() -> io::Result<OwnedFd> {
        // SAFETY: timerfd_create takes a clock id and flags and returns a new descriptor or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw was just returned open, and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    /// Arms the timer `fd` to expire once, `after` from now (at least a nanosecond: zero
    /// would disarm it).
    pub(crate) fn timerfd_arm(fd: RawFd, after: std::time::Duration) -> io::Result<()> {
        let after = after.max(std::time::Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: after.subsec_nanos().into(),
            },
        };
        // SAFETY: fd is a timer descriptor the caller owns; spec is a valid itimerspec the
        // call only reads, and the old value is not asked for (null).
        if unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// F_SETPIPE_SZ; a refusal is ignored (the pipe keeps its size).
    pub(crate) fn set_pipe_size(fd: RawFd, bytes: usize) {
        let asked = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: fcntl on a descriptor the caller owns; F_SETPIPE_SZ takes an int.
        unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, asked) };
    }

    /// vmsplice(2) of the pages of `data`'s pieces (at most UIO_MAXIOV of them) into the
    /// pipe's write end `fd`, without GIFT: the pipe refers to their memory, which the
    /// caller must not change while the bytes are in flight.
    pub(crate) fn vmsplice(fd: RawFd, data: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
        let count = data.len().min(libc::UIO_MAXIOV as usize);
        // SAFETY: IoSlice is ABI-compatible with iovec on Unix (std guarantees it), so this
        // is `count` iovecs over live slices; vmsplice without SPLICE_F_GIFT only reads them.
        retrying(|| unsafe {
            libc::vmsplice(
                fd,
                data.as_ptr().cast::<libc::iovec>(),
                count,
                libc::SPLICE_F_NONBLOCK,
            )
        })
    }

    /// splice(2) of up to `len` bytes between two stream descriptors, non-blocking.
    pub(crate) fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
        // SAFETY: plain descriptors and null offsets (both ends are streams).
        retrying(|| unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
            )
        })
    }

    /// read(2) into `buf`.
    pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: reads at most `buf.len()` bytes into the buffer we borrow mutably.
        retrying(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
    }

    /// Runs a byte-count syscall until it is not interrupted: its count, or the errno.
    fn retrying(mut call: impl FnMut() -> isize) -> io::Result<usize> {
        loop {
            let n = call();
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
