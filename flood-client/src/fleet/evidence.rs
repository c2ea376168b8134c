//! Measuring around a run what its verdict weighs (`report::bound`): each end's CPU and
//! the busy share of its cores from /proc/stat, and the kernel's TCP counters of this
//! network namespace, read once before the run and once after it (nothing per chunk).

use std::time::Instant;

use hostkit::kernel::{self, CpuTicks, TcpCounters};
use hostkit::procfs::{self, ServerCpu};

use crate::config::RunConfig;
use crate::report::bound::{self, CoreBusy, EndCpu, Evidence, KernelSide};
use crate::report::{ErrorKind, Pacing, Report, Summary};

/// What is read before the run, to take differences from after it.
pub(crate) struct Before {
    at: Instant,
    ticks: Vec<Option<CpuTicks>>,
    tcp: TcpCounters,
    server: Option<ServerCpu>,
}

impl Before {
    /// Reads the counters now; `server_pid` is the server's process, when known.
    pub(crate) fn take(server_pid: Option<u32>) -> Before {
        Before {
            at: Instant::now(),
            ticks: kernel::cpu_ticks(),
            tcp: TcpCounters::read(),
            server: server_pid.map(ServerCpu::start),
        }
    }

    /// The server's CPU seconds since [`Before::take`], when its process is known.
    pub(crate) fn server_cpu_s(&self) -> Option<f64> {
        self.server.as_ref().map(ServerCpu::seconds)
    }

    /// The evidence of `r`, the run `cfg` that just ended; sends or connects later than
    /// `late_ms` count as late.
    pub(crate) fn evidence(&self, cfg: &RunConfig, r: &Report, late_ms: f64) -> Evidence {
        let wall = self.at.elapsed().as_secs_f64().max(1e-6);
        let ticks = kernel::cpu_ticks();
        let cores_of = |pid: u32| -> Vec<CoreBusy> {
            kernel::allowed_cpus(pid)
                .into_iter()
                .filter_map(|cpu| {
                    let busy_pct = kernel::busy_pct(&self.ticks, &ticks, cpu)?;
                    Some(CoreBusy { cpu, busy_pct })
                })
                .collect()
        };
        let client_cores = cores_of(std::process::id());
        let server_cores = self.server.as_ref().map(|s| cores_of(s.pid()));
        // A core both ends may run on shows both ends' work: it says nothing of either.
        let shared = server_cores.as_ref().is_some_and(|cores| {
            cores
                .iter()
                .any(|c| client_cores.iter().any(|m| m.cpu == c.cpu))
        });
        let server = self.server.as_ref().zip(server_cores).map(|(s, cores)| {
            let process_pct = 100.0 * s.seconds() / wall;
            let threads = procfs::process_tree(s.pid())
                .into_iter()
                .map(procfs::thread_count)
                .sum();
            EndCpu {
                busy_pct: bound::busy(process_pct, threads, &cores, shared),
                process_pct,
                cores,
            }
        });
        let process_pct = 100.0 * r.client_cpu_s / wall;
        let loops = cfg.processes.max(1) * cfg.threads.max(1);
        let client = EndCpu {
            busy_pct: bound::busy(process_pct, loops, &client_cores, shared),
            process_pct,
            cores: client_cores,
        };
        let tcp = TcpCounters::read().since(&self.tcp);
        let errors = |kind| r.errors.get(&kind).copied().unwrap_or(0);
        let kernel = KernelSide {
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
            ports_exhausted: errors(ErrorKind::PortsExhausted),
            descriptors_exhausted: errors(ErrorKind::DescriptorsExhausted),
            // Only a listener in this namespace is this run's target.
            listen_backlog: (cfg.target.ip().is_loopback())
                .then(|| kernel::accept_queue(cfg.target.port()))
                .flatten()
                .map(|q| q.backlog),
        };
        let of = match r.pacing {
            Pacing::Closed => None,
            Pacing::Messages => Some("sends"),
            Pacing::Connections => Some("connects"),
        };
        Evidence {
            client,
            server,
            lateness: of.and_then(|of| bound::lateness(&r.lateness_histogram, of, late_ms)),
            offered_per_s: Summary::of(r).offered_per_s,
            failures: r.connections_failed,
            broke: r.connections_failed > 0,
            kernel,
        }
    }
}
