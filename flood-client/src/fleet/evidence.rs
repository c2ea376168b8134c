//! Measuring what a verdict weighs (`report::bound`): each end's CPU and the busy share of
//! its cores from /proc/stat, and the kernel's TCP counters of this network namespace —
//! read before and after a run ([`Before`]), and at each interval the showing process
//! releases ([`Watch`]); nothing per chunk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hostkit::kernel::{self, CpuTicks, TcpCounters};
use hostkit::procfs::{self, TreeCpu};

use crate::config::RunConfig;
use crate::report::bound::{self, CoreBusy, EndCpu, Evidence, IntervalBound, KernelSide};
use crate::report::interval::Interval;
use crate::report::{ErrorKind, Pacing, Report, Summary};

/// One read of every counter.
#[derive(Debug)]
struct Reading {
    at: Instant,
    ticks: Vec<Option<CpuTicks>>,
    tcp: TcpCounters,
    /// The server's CPU so far, its threads' (its workers' too) each, when its process is
    /// known.
    server: Option<TreeCpu>,
}

impl Reading {
    /// The server's threads with their CPU seconds (none when its process is unknown).
    fn server_threads(&self) -> &[(u32, f64)] {
        self.server.as_ref().map_or(&[], |t| &t.threads)
    }
}

/// What is measured, and of whom; what a run does not change is read once, here.
#[derive(Debug, Clone)]
struct Ends {
    /// The server's process (and its workers), when known.
    server_pid: Option<u32>,
    /// Event loops of the client (processes × threads).
    loops: usize,
    /// The CPUs the client may run on.
    client_cpus: Vec<usize>,
    /// The CPUs the server may run on, when its process is known.
    server_cpus: Option<Vec<usize>>,
    /// The target listener's backlog, when it listens on loopback in this namespace (the
    /// server is up before the run starts, and its backlog does not change).
    listen_backlog: Option<u64>,
    /// Where each end's kernel work runs (the run's `placement`).
    placement: String,
}

impl Ends {
    fn of(cfg: &RunConfig, server_pid: Option<u32>) -> Ends {
        let target = cfg.target;
        Ends {
            server_pid,
            loops: cfg.processes.max(1) * cfg.threads.max(1),
            client_cpus: kernel::allowed_cpus(std::process::id()),
            server_cpus: server_pid.map(kernel::allowed_cpus),
            // Only a listener in this namespace is this run's target.
            listen_backlog: (target.ip().is_loopback())
                .then(|| kernel::accept_queue(target.port()))
                .flatten()
                .map(|q| q.backlog),
            placement: cfg.placement.clone(),
        }
    }

    fn read(&self) -> Reading {
        Reading {
            at: Instant::now(),
            ticks: kernel::cpu_ticks(),
            // The server's namespace: where its listener overflows (ours, on loopback).
            tcp: TcpCounters::read_of(self.server_pid),
            server: self.server_pid.map(procfs::tree_cpu),
        }
    }

    /// The server's CPU seconds between two readings, when its process is known.
    fn server_s(from: &Reading, to: &Reading) -> Option<f64> {
        let (from, to) = (from.server.as_ref()?, to.server.as_ref()?);
        Some((to.seconds - from.seconds).max(0.0))
    }

    /// Both ends between two readings, the client having used `client_s` CPU seconds.
    fn cpu(&self, from: &Reading, to: &Reading, client_s: f64) -> (EndCpu, Option<EndCpu>) {
        let wall = to.at.duration_since(from.at).as_secs_f64().max(1e-6);
        let cores_of = |cpus: &[usize]| -> Vec<CoreBusy> {
            cpus.iter()
                .filter_map(|&cpu| {
                    let busy_pct = kernel::busy_pct(&from.ticks, &to.ticks, cpu, wall)?;
                    Some(CoreBusy { cpu, busy_pct })
                })
                .collect()
        };
        let client_cores = cores_of(&self.client_cpus);
        let server_cores = self.server_cpus.as_deref().map(cores_of);
        // A core both ends may run on shows both ends' work: it says nothing of either.
        let shared = server_cores.as_ref().is_some_and(|cores| {
            cores
                .iter()
                .any(|c| client_cores.iter().any(|m| m.cpu == c.cpu))
        });
        let server = server_cores.map(|cores| {
            let process_pct = 100.0 * Ends::server_s(from, to).unwrap_or_default() / wall;
            // A server's threads are not all loops (echo-server has a stats thread, Go
            // many idle ones): its busiest thread says how full its busiest loop was.
            let busiest = (to.server_threads().iter())
                .filter_map(|(tid, now)| {
                    let (_, then) = from.server_threads().iter().find(|(t, _)| t == tid)?;
                    Some(100.0 * (now - then).max(0.0) / wall)
                })
                .fold(0.0, f64::max);
            let per_loop = busiest.max(process_pct / cores.len().max(1) as f64);
            EndCpu {
                busy_pct: bound::busy(per_loop, to.server_threads().len(), &cores, shared),
                process_pct,
                cores,
            }
        });
        let process_pct = 100.0 * client_s / wall;
        let per_loop = process_pct / self.loops.max(1) as f64;
        let client = EndCpu {
            busy_pct: bound::busy(per_loop, self.loops, &client_cores, shared),
            process_pct,
            cores: client_cores,
        };
        (client, server)
    }

    /// The kernel's side between two readings (failures by kind are the caller's).
    fn kernel(&self, from: &Reading, to: &Reading) -> KernelSide {
        let tcp = to.tcp.since(&from.tcp);
        KernelSide {
            listen_overflows: tcp.listen_overflows,
            listen_drops: tcp.listen_drops,
            syn_retrans: tcp.syn_retrans,
            syncookies_sent: tcp.syncookies_sent,
            retrans_segs: tcp.retrans_segs,
            abort_on_memory: tcp.abort_on_memory,
            memory_pressures: tcp.memory_pressures,
            mem_pages: tcp.mem_pages,
            tcp_mem_pages: tcp.tcp_mem,
            time_wait: tcp.time_wait,
            orphans: tcp.orphans,
            ports_exhausted: 0,
            descriptors_exhausted: 0,
            listen_backlog: self.listen_backlog,
        }
    }
}

/// What is read before a run, to take differences from after it.
#[derive(Debug)]
pub(crate) struct Before {
    ends: Ends,
    first: Reading,
}

impl Before {
    /// Reads the counters now, for the run `cfg`; `server_pid` is the server's process,
    /// when known.
    pub(crate) fn take(cfg: &RunConfig, server_pid: Option<u32>) -> Before {
        let ends = Ends::of(cfg, server_pid);
        Before {
            first: ends.read(),
            ends,
        }
    }

    /// The evidence of `r`, the run that just ended (sends or connects later than `late_ms`
    /// count as late), and the server's CPU seconds over it when its process is known: one
    /// reading for both.
    pub(crate) fn evidence(&self, r: &Report, late_ms: f64) -> (Evidence, Option<f64>) {
        let last = self.ends.read();
        let (client, server) = self.ends.cpu(&self.first, &last, r.client_cpu_s);
        let errors = |kind| r.errors.get(&kind).copied().unwrap_or(0);
        let kernel = KernelSide {
            ports_exhausted: errors(ErrorKind::PortsExhausted),
            descriptors_exhausted: errors(ErrorKind::DescriptorsExhausted),
            ..self.ends.kernel(&self.first, &last)
        };
        let of = match r.pacing {
            Pacing::Closed => None,
            Pacing::Messages => Some("sends"),
            Pacing::Connections => Some("connects"),
        };
        let summary = Summary::of(r);
        let failures = (r.connections_failed).saturating_sub(errors(ErrorKind::Interrupted));
        let evidence = Evidence {
            client,
            server,
            lateness: of.and_then(|of| bound::lateness(&r.lateness_histogram, of, late_ms)),
            offered_per_s: summary.offered_per_s,
            achieved_per_s: summary.achieved_per_s,
            failures,
            broke: failures > 0,
            stopped: r.interrupted,
            kernel,
            placement: self.ends.placement.clone(),
        };
        (evidence, Ends::server_s(&self.first, &last))
    }
}

/// Weighs each interval as the showing process releases it: the counters since the last
/// release, and the interval's own client CPU and failures.
#[derive(Debug)]
pub(crate) struct Watch {
    ends: Ends,
    last: Reading,
    /// The run's schedule, per second (the listen queue's rule weighs the queue by it).
    offered_per_s: Option<f64>,
    /// The run's stop flag: intervals released once it is set are not weighed (their
    /// failures are the connections the stop cut short).
    stop: Arc<AtomicBool>,
}

impl Watch {
    /// Starts watching the run `cfg` whose ends `before` measures (what it read once
    /// serves both), stopped by `stop`.
    pub(crate) fn new(cfg: &RunConfig, before: &Before, stop: Arc<AtomicBool>) -> Watch {
        let ends = before.ends.clone();
        Watch {
            last: ends.read(),
            ends,
            offered_per_s: cfg.rate.or(cfg.connect_rate.filter(|_| cfg.churn)),
            stop,
        }
    }

    /// The verdict of `released`, the intervals released together since the last call.
    pub(crate) fn weigh(&mut self, released: &[&Interval]) -> IntervalBound {
        let now = self.ends.read();
        let client_s = released.iter().map(|i| i.client_cpu_s).sum();
        let (client, server) = self.ends.cpu(&self.last, &now, client_s);
        let failures = released.iter().map(|i| i.failures).sum();
        let kernel = self.ends.kernel(&self.last, &now);
        self.last = now;
        IntervalBound::of(Evidence {
            client,
            server,
            lateness: None,
            offered_per_s: self.offered_per_s,
            achieved_per_s: None,
            failures,
            broke: failures > 0,
            stopped: self.stop.load(Ordering::Relaxed),
            kernel,
            placement: self.ends.placement.clone(),
        })
    }
}
