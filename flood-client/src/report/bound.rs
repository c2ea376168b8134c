//! Whose limit it was: the [`Verdict`] of a run or a `limit` step, weighed from the
//! [`Evidence`] measured around it (each end's CPU and cores, how late the generator sent
//! or connected against its schedule, the kernel's TCP counters). The rules, in the order
//! they are tried, and the reason for each threshold are in docs/WHOSE-LIMIT.md; a change
//! here changes that page.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::histogram::Latency;

/// A core busier than this (percent, over the run) has no room left: the event loops on
/// it queue. Below it, a run's bursts still fit.
pub const BUSY_PCT: f64 = 90.0;
/// More than this share (percent) of sends or connects leaving late puts the p99 over a
/// bound by the client's lateness alone.
pub const LATE_SHARE_PCT: f64 = 1.0;
/// How late (ms) a send or connect must leave to count as late in a run with no `--p99`
/// bound of its own (`limit` uses its bound).
pub const LATE_MS: f64 = 5.0;
/// A client busier than this (percent) has too little room to clear the step's bursts
/// quickly: at 75% a queue's wait is already three times its service time (M/M/1), so a p99
/// over the bound may be its own even with its schedule kept. A broken step with the client
/// between this and [`BUSY_PCT`] and the server not full is `unknown`, not the server's; the
/// server above it is the server's; both below it, with nothing else found, is nobody's
/// (`nothing measured`).
pub const ROOM_PCT: f64 = 75.0;
/// A schedule whose completions reached less than this share (percent) of the offered rate
/// fell behind it (`limit`'s own floor for a step that held): with the client on time and
/// not busy, the pace was the server's.
pub const KEPT_PACE_PCT: f64 = 95.0;
/// A listen queue holding fewer ms of arrivals than this (backlog / arrival rate) is too
/// short to ride out one scheduling delay of the server: its overflows are the queue's.
pub const SHORT_QUEUE_MS: f64 = 10.0;

/// What ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BoundBy {
    /// The load generator: its cores or its schedule.
    #[serde(rename = "client")]
    Client,
    /// The server under test: its cores, or its pace (accepting, echoing).
    #[serde(rename = "server")]
    Server,
    /// The kernel's accept queue of the listener (its backlog).
    #[serde(rename = "kernel: listen queue")]
    ListenQueue,
    /// The kernel's TCP memory (net.ipv4.tcp_mem).
    #[serde(rename = "kernel: TCP memory")]
    TcpMemory,
    /// Local ports for the client's connects (EADDRNOTAVAIL).
    #[serde(rename = "kernel: ports")]
    Ports,
    /// Descriptors (EMFILE, ENFILE).
    #[serde(rename = "kernel: descriptors")]
    Descriptors,
    /// Nothing ran out.
    #[serde(rename = "none")]
    Nothing,
    /// The run broke, but nothing measured ran out: neither end was busy, the client was on
    /// time, the server kept pace and no kernel limit was met. The bound was crossed while
    /// waiting (wake-ups, timers, the network path), not on a full core.
    #[serde(rename = "nothing measured")]
    NothingMeasured,
    /// Something broke and the evidence names nobody (the server's CPU was not measured).
    #[serde(rename = "unknown")]
    Unknown,
    /// The run was stopped before its end (Ctrl-C, the live view's `q`, SIGTERM): a part
    /// of a run names nobody's limit, and the connections the stop cut short are no
    /// failure of either end.
    #[serde(rename = "not weighed")]
    NotWeighed,
}

impl BoundBy {
    /// The name in the reports, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            BoundBy::Client => "client",
            BoundBy::Server => "server",
            BoundBy::ListenQueue => "kernel: listen queue",
            BoundBy::TcpMemory => "kernel: TCP memory",
            BoundBy::Ports => "kernel: ports",
            BoundBy::Descriptors => "kernel: descriptors",
            BoundBy::Nothing => "none",
            BoundBy::NothingMeasured => "nothing measured",
            BoundBy::Unknown => "unknown",
            BoundBy::NotWeighed => "not weighed",
        }
    }
}

/// One core's busy share over the run (user, system, irq and softirq of /proc/stat).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CoreBusy {
    /// CPU number.
    pub cpu: usize,
    /// Busy percent of the run's wall time.
    pub busy_pct: f64,
}

/// One end's CPU over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EndCpu {
    /// Its processes' CPU, percent of one core (200: two cores' worth).
    pub process_pct: f64,
    /// The cores it may run on, each with its busy share (which counts the kernel's work
    /// done there, e.g. the other end's half of a loopback handshake).
    pub cores: Vec<CoreBusy>,
    /// How busy it was, percent: the higher of its busiest loop's share of a core (the
    /// client: its mean loop's; the server: its busiest thread's, or its process share over
    /// its cores, whichever is higher) and, when it has no more cores than loops and shares
    /// none with the other end, its cores' mean.
    pub busy_pct: f64,
}

/// How late the generator sent (`--rate`) or connected (`--churn`) against its schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Lateness {
    /// What was scheduled: `sends` (`--rate`) or `connects` (`--churn`).
    pub of: String,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// What counts as late, ms: `limit`'s `--p99` bound, else [`LATE_MS`].
    pub late_ms: f64,
    /// Percent of sends or connects that left later than `late_ms`.
    pub late_pct: f64,
}

/// The kernel's side of the run: TCP counters as deltas over it, gauges at its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KernelSide {
    /// Connections dropped because a listener's accept queue was full (ListenOverflows).
    pub listen_overflows: u64,
    /// SYNs and connections a listener dropped, overflows included (ListenDrops).
    pub listen_drops: u64,
    /// SYNs sent again (TCPSynRetrans).
    pub syn_retrans: u64,
    /// SYN cookies sent (SyncookiesSent): the SYN queue was full.
    pub syncookies_sent: u64,
    /// Segments retransmitted (RetransSegs).
    pub retrans_segs: u64,
    /// Connections aborted for lack of TCP memory (TCPAbortOnMemory).
    pub abort_on_memory: u64,
    /// Times TCP entered memory pressure (TCPMemoryPressures).
    pub memory_pressures: u64,
    /// TCP memory in use at the end, pages, against `tcp_mem_pages` (net.ipv4.tcp_mem).
    pub mem_pages: u64,
    /// net.ipv4.tcp_mem: below [1] no pressure, above [2] allocations fail.
    pub tcp_mem_pages: [u64; 3],
    /// Sockets in TIME_WAIT at the end.
    pub time_wait: u64,
    /// Orphaned sockets at the end.
    pub orphans: u64,
    /// Connects that failed for want of a local port (EADDRNOTAVAIL).
    pub ports_exhausted: u64,
    /// Connects that failed for want of a descriptor (EMFILE, ENFILE).
    pub descriptors_exhausted: u64,
    /// The target listener's backlog, when it listens in this network namespace.
    pub listen_backlog: Option<u64>,
}

/// What the verdict weighs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The client's processes and cores.
    pub client: EndCpu,
    /// The server's, when the tool started it or was given `--server-pid` (null: not
    /// measured).
    pub server: Option<EndCpu>,
    /// The generator's lateness (null in a closed loop, which has no schedule).
    pub lateness: Option<Lateness>,
    /// Scheduled sends or connects per second (null in a closed loop).
    pub offered_per_s: Option<f64>,
    /// Scheduled sends or connects completed per second, the backlog worked off after the
    /// schedule included (null in a closed loop, and in an interval's evidence).
    #[serde(default)]
    pub achieved_per_s: Option<f64>,
    /// Connections that failed (those a stop cut short are not counted: no end failed them).
    pub failures: u64,
    /// Whether the run broke its bound (a failure, or `limit`'s p99 or achieved rate).
    pub broke: bool,
    /// Whether the run was stopped before its end (Ctrl-C, the live view's `q`, SIGTERM);
    /// an interval's, whether the stop came before it was weighed. Such a run is not
    /// weighed: what it measured covers a part of it.
    #[serde(default)]
    pub stopped: bool,
    /// The kernel's counters (the server's network namespace's, when its process is
    /// known).
    pub kernel: KernelSide,
    /// Where each end's kernel work ran: `loopback`, or the split's namespaces and each
    /// end's receive steering as read back (`--placement`).
    #[serde(default)]
    pub placement: String,
}

/// Whose limit it was, and why, in one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// What ran out.
    pub bound_by: BoundBy,
    /// The evidence in one line, e.g. "its core 97% busy and 31% of connects left > 5 ms
    /// late, while the server's core was 38% busy".
    pub why: String,
    /// What to do about it, when the bound is the client's or the kernel's, or nothing
    /// measured ran out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub way_past: Option<String>,
    /// Everything measured.
    pub evidence: Evidence,
}

impl Verdict {
    /// The verdict as printed: "client: its core 97% busy, …".
    pub fn line(&self) -> String {
        format!("{}: {}", self.bound_by.name(), self.why)
    }

    /// The verdict as a sentence: "bound by the client: …", "nothing ran out: …".
    pub fn sentence(&self) -> String {
        let who = match self.bound_by {
            BoundBy::Client => "bound by the client",
            BoundBy::Server => "bound by the server",
            BoundBy::ListenQueue => "bound by the kernel's listen queue",
            BoundBy::TcpMemory => "bound by the kernel's TCP memory",
            BoundBy::Ports => "bound by the kernel's local ports",
            BoundBy::Descriptors => "bound by descriptors",
            BoundBy::Nothing => "nothing ran out",
            BoundBy::NothingMeasured => "bound by nothing measured",
            BoundBy::Unknown => "bound by something unknown",
            BoundBy::NotWeighed => "not weighed",
        };
        format!("{who}: {}", self.why)
    }

    /// The same evidence weighed against a bound of the caller's (`limit`'s step): `broke`
    /// whether the step broke it, `late_ms` what counts as late, from the run's `lateness`.
    pub fn reweighed(&self, broke: bool, late_ms: f64, lateness: &Latency) -> Verdict {
        let mut e = self.evidence.clone();
        e.broke = broke;
        let of = e.lateness.as_ref().map(|l| l.of.clone());
        e.lateness = of.and_then(|of| self::lateness(lateness, &of, late_ms));
        weigh(e)
    }
}

/// An interval's verdict, compact: what ran out in it and both ends' busy share (weighed by
/// the same rules from that interval's CPU and kernel counters; the generator's lateness is
/// the run's, not the interval's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntervalBound {
    /// What ran out in the interval.
    pub bound_by: BoundBy,
    /// The client's busy share, percent.
    pub client_busy_pct: f64,
    /// The server's, when measured.
    pub server_busy_pct: Option<f64>,
}

impl IntervalBound {
    /// The compact form for an interval's evidence.
    pub fn of(e: Evidence) -> IntervalBound {
        let (client_busy_pct, server_busy_pct) =
            (e.client.busy_pct, e.server.as_ref().map(|s| s.busy_pct));
        IntervalBound {
            bound_by: decide(&e).0,
            client_busy_pct,
            server_busy_pct,
        }
    }

    /// The interval line's column: "client  97/ 38" (server "  —" when not measured).
    pub fn column(&self) -> String {
        let server = self
            .server_busy_pct
            .map_or("  —".to_string(), |b| format!("{b:>3.0}"));
        format!(
            "{:<8} {:>3.0}/{server}",
            short(self.bound_by),
            self.client_busy_pct
        )
    }
}

/// A verdict's name in at most 8 characters, for the interval column.
fn short(b: BoundBy) -> &'static str {
    match b {
        BoundBy::ListenQueue => "listenq",
        BoundBy::TcpMemory => "tcp mem",
        BoundBy::Ports => "ports",
        BoundBy::Descriptors => "fds",
        BoundBy::NothingMeasured => "idle",
        BoundBy::NotWeighed => "stopped",
        other => other.name(),
    }
}

/// Weighs the evidence, first rule that applies wins (docs/WHOSE-LIMIT.md).
pub fn weigh(e: Evidence) -> Verdict {
    let (bound_by, why, way_past) = decide(&e);
    Verdict {
        bound_by,
        why,
        way_past: way_past.map(str::to_string),
        evidence: e,
    }
}

/// How to get past the client's own ceiling on one box.
const PAST_CLIENT: &str = "give the client more: --processes or a core of its own, \
    --shard across hosts, or move the kernel's receive work off its core (docs/WHOSE-LIMIT.md)";
/// How to get past a bound crossed while both ends idled.
const PAST_WAITING: &str = "loosen --p99 (near an idle core's wake-up, tens to hundreds of \
    µs, scheduling alone crosses it), or shorten the wake-ups: --pin each end to a core of its \
    own, shallower CPU idle states (docs/WHOSE-LIMIT.md)";

fn decide(e: &Evidence) -> (BoundBy, String, Option<&'static str>) {
    let k = &e.kernel;
    let both = both_ends(e);
    if e.stopped {
        let why = format!(
            "the run was stopped before its end (Ctrl-C, q or SIGTERM), and part of a run \
             names no limit; {both}"
        );
        return (BoundBy::NotWeighed, why, None);
    }
    if k.descriptors_exhausted > 0 {
        let why = format!(
            "{} connects failed for want of a descriptor (EMFILE/ENFILE)",
            k.descriptors_exhausted
        );
        return (
            BoundBy::Descriptors,
            why,
            Some("raise ulimit -n (scripts/raise-limits.sh) or use more --processes"),
        );
    }
    if k.ports_exhausted > 0 {
        let why = format!(
            "{} connects failed for want of a local port (EADDRNOTAVAIL)",
            k.ports_exhausted
        );
        return (
            BoundBy::Ports,
            why,
            Some(
                "add source addresses (--source 127.0.0.2,…) or widen net.ipv4.ip_local_port_range",
            ),
        );
    }
    let pressure = k.tcp_mem_pages[1] > 0 && k.mem_pages >= k.tcp_mem_pages[1];
    if k.abort_on_memory > 0 || k.memory_pressures > 0 || pressure {
        let why = format!(
            "TCP memory {} pages against tcp_mem {:?}, {} pressure episodes, {} aborts for memory",
            k.mem_pages, k.tcp_mem_pages, k.memory_pressures, k.abort_on_memory
        );
        return (
            BoundBy::TcpMemory,
            why,
            Some("raise net.ipv4.tcp_mem (sysctl/, scripts/tune-kernel.sh) or shrink --rcvbuf"),
        );
    }
    let overflowed = k.listen_overflows > 0 || k.listen_drops > 0;
    let queue_ms = match (k.listen_backlog, e.offered_per_s) {
        (Some(b), Some(rate)) if rate > 0.0 => Some(b as f64 * 1e3 / rate),
        _ => None,
    };
    if overflowed && queue_ms.is_some_and(|ms| ms < SHORT_QUEUE_MS) {
        let why = format!(
            "{} listen overflows; the backlog of {} holds {:.1} ms of arrivals at {:.0}/s",
            k.listen_overflows,
            k.listen_backlog.unwrap_or_default(),
            queue_ms.unwrap_or_default(),
            e.offered_per_s.unwrap_or_default()
        );
        return (
            BoundBy::ListenQueue,
            why,
            Some("raise the server's listen backlog and net.core.somaxconn"),
        );
    }
    if let Some(late) = e.lateness.as_ref().filter(|l| l.late_pct > LATE_SHARE_PCT) {
        let why = format!(
            "{:.0}% of {} left > {} ms late (p99 {:.1} ms); {both}",
            late.late_pct, late.of, late.late_ms, late.p99_ms
        );
        return (BoundBy::Client, why, Some(PAST_CLIENT));
    }
    if e.client.busy_pct >= BUSY_PCT {
        return (BoundBy::Client, both, Some(PAST_CLIENT));
    }
    let server_busy = e.server.as_ref().map(|s| s.busy_pct);
    if server_busy.is_some_and(|b| b >= BUSY_PCT) {
        return (BoundBy::Server, both, None);
    }
    if overflowed {
        let mut why = format!(
            "it accepted slower than connects arrived: {} listen overflows",
            k.listen_overflows
        );
        if let Some(ms) = queue_ms {
            let _ = write!(why, " with a backlog holding {ms:.0} ms of arrivals");
        }
        let _ = write!(why, "; {both}");
        return (BoundBy::Server, why, None);
    }
    if !e.broke {
        return (BoundBy::Nothing, both, None);
    }
    let Some(server_busy) = server_busy else {
        let why = format!(
            "the client was on time and no kernel limit was met; {both} \
             (give --server-pid to weigh the server)"
        );
        return (BoundBy::Unknown, why, None);
    };
    if e.client.busy_pct >= ROOM_PCT {
        let why = format!(
            "neither end's core was full and no kernel limit was met, but the client had \
             little room; {both}"
        );
        return (BoundBy::Unknown, why, Some(PAST_CLIENT));
    }
    let on_time = "the client was on time with room to spare and no kernel limit was met";
    if server_busy >= ROOM_PCT {
        let why = format!("{on_time}, but the server had little room; {both}");
        return (BoundBy::Server, why, None);
    }
    if e.failures > 0 {
        let why = format!("{} connections failed; {on_time}; {both}", e.failures);
        return (BoundBy::Server, why, None);
    }
    if let Some((achieved, offered)) = behind(e) {
        let why = format!(
            "it completed {achieved:.0}/s of the {offered:.0}/s offered (under \
             {KEPT_PACE_PCT:.0}%): its pace, not its CPU; {on_time}; {both}"
        );
        return (BoundBy::Server, why, None);
    }
    let why = format!(
        "neither end was busy (both under {ROOM_PCT:.0}%), the client was on time, the server \
         kept pace and no kernel limit was met: the bound was crossed while waiting (wake-ups, \
         timers, the network path), not on a full core; {both}"
    );
    (BoundBy::NothingMeasured, why, Some(PAST_WAITING))
}

/// The achieved and offered rates, when the completions fell behind the schedule (under
/// [`KEPT_PACE_PCT`] of it).
fn behind(e: &Evidence) -> Option<(f64, f64)> {
    let (achieved, offered) = (e.achieved_per_s?, e.offered_per_s?);
    (achieved * 100.0 < KEPT_PACE_PCT * offered).then_some((achieved, offered))
}

/// "its core 97% busy, the server's 38%" (or "the server's not measured").
fn both_ends(e: &Evidence) -> String {
    let client = describe(&e.client);
    match &e.server {
        Some(s) => format!("client {client}, server {}", describe(s)),
        None => format!("client {client}, server not measured"),
    }
}

/// "core 1 97% busy" or "91% busy (process)".
fn describe(end: &EndCpu) -> String {
    match end.cores.as_slice() {
        [one] => format!(
            "{:.0}% busy (its core {} {:.0}%)",
            end.busy_pct, one.cpu, one.busy_pct
        ),
        _ => format!("{:.0}% busy", end.busy_pct),
    }
}

/// The generator's lateness from its histogram: `of` what was scheduled (`sends`,
/// `connects`), late past `late_ms`; `None` when nothing was scheduled.
pub fn lateness(h: &Latency, of: &str, late_ms: f64) -> Option<Lateness> {
    let p = h.summary();
    (p.count > 0).then(|| Lateness {
        of: of.into(),
        p50_ms: p.p50_us as f64 / 1e3,
        p99_ms: p.p99_us as f64 / 1e3,
        late_ms,
        late_pct: h.pct_above((late_ms * 1e3) as u64),
    })
}

/// How busy an end was (see [`EndCpu::busy_pct`]): `per_loop_pct` its busiest event loop's
/// share of a core (or the mean loop's), `loops` its threads, `cores` it may run on;
/// `shared` when the other end may run on one of them too (their busy share is then both
/// ends').
pub fn busy(per_loop_pct: f64, loops: usize, cores: &[CoreBusy], shared: bool) -> f64 {
    let per_loop = per_loop_pct.min(100.0);
    if cores.is_empty() || shared || cores.len() > loops.max(1) {
        return per_loop;
    }
    let mean = cores.iter().map(|c| c.busy_pct).sum::<f64>() / cores.len() as f64;
    per_loop.max(mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(busy: f64) -> EndCpu {
        EndCpu {
            process_pct: busy,
            cores: vec![CoreBusy {
                cpu: 0,
                busy_pct: busy,
            }],
            busy_pct: busy,
        }
    }

    fn evidence(client: f64, server: Option<f64>, broke: bool) -> Evidence {
        Evidence {
            client: end(client),
            server: server.map(end),
            broke,
            ..Evidence::default()
        }
    }

    #[test]
    fn each_rule_names_its_end() {
        let cases = [
            (evidence(97.0, Some(38.0), true), BoundBy::Client),
            (evidence(40.0, Some(95.0), true), BoundBy::Server),
            (evidence(40.0, Some(50.0), false), BoundBy::Nothing),
            // Broke with neither end busy: no evidence names either.
            (evidence(40.0, Some(50.0), true), BoundBy::NothingMeasured),
            // The server with little room: its queue.
            (evidence(40.0, Some(80.0), true), BoundBy::Server),
            (evidence(40.0, None, true), BoundBy::Unknown),
            // No core full, but the client with little room: either end's delay.
            (evidence(85.0, Some(55.0), true), BoundBy::Unknown),
            (evidence(40.0, None, false), BoundBy::Nothing),
        ];
        for (e, want) in cases {
            assert_eq!(weigh(e.clone()).bound_by, want, "{e:?}");
        }
    }

    #[test]
    fn a_late_generator_is_the_client_even_on_an_idle_core() {
        let mut e = evidence(30.0, Some(95.0), true);
        e.offered_per_s = Some(10_000.0);
        e.lateness = Some(Lateness {
            of: "connects".into(),
            p50_ms: 0.1,
            p99_ms: 40.0,
            late_ms: 5.0,
            late_pct: 31.0,
        });
        let v = weigh(e.clone());
        assert_eq!(v.bound_by, BoundBy::Client);
        assert!(
            v.why.starts_with("31% of connects left > 5 ms late"),
            "{}",
            v.why
        );
        assert!(v.way_past.is_some());
        if let Some(l) = e.lateness.as_mut() {
            l.late_pct = 0.5;
        }
        assert_eq!(weigh(e).bound_by, BoundBy::Server);
    }

    /// The first-use review's step: `limit --spawn-server --connect-rate 200..3200 --p99
    /// 250us` broke at 650 connections/s with the client on time, 4% busy, and the server
    /// 1%: nothing measured ran out, and the verdict must not name the server.
    #[test]
    fn a_bound_crossed_with_both_ends_idle_names_nobody() {
        let mut e = evidence(4.0, Some(1.0), true);
        (e.offered_per_s, e.achieved_per_s) = (Some(650.0), Some(648.0));
        e.lateness = Some(Lateness {
            of: "connects".into(),
            p50_ms: 0.02,
            p99_ms: 0.1,
            late_ms: 0.25,
            late_pct: 0.3,
        });
        let v = weigh(e.clone());
        assert_eq!(v.bound_by, BoundBy::NothingMeasured, "{}", v.why);
        let sentence = v.sentence();
        assert!(
            sentence.starts_with("bound by nothing measured: neither end was busy"),
            "{sentence}"
        );
        assert!(sentence.contains("client 4% busy"), "{sentence}");
        assert!(sentence.contains("server 1% busy"), "{sentence}");
        assert!(v.way_past.is_some_and(|p| p.contains("--p99")));
        // Evidence that names the server keeps it: it fell behind the schedule, its
        // connections failed, or it had little room.
        let mut slow = e.clone();
        slow.achieved_per_s = Some(600.0);
        let v = weigh(slow);
        assert_eq!(v.bound_by, BoundBy::Server);
        assert!(
            v.why.starts_with("it completed 600/s of the 650/s"),
            "{}",
            v.why
        );
        let mut failed = e.clone();
        failed.failures = 3;
        assert_eq!(weigh(failed).bound_by, BoundBy::Server);
        e.server = Some(end(ROOM_PCT));
        assert_eq!(weigh(e).bound_by, BoundBy::Server);
    }

    /// The first-use review's Ctrl-C: a run stopped after a second with both ends idle was
    /// "server: 5 connections failed". Stopped, a run (or the interval the stop fell in)
    /// is not weighed, whatever else its evidence holds.
    #[test]
    fn a_stopped_run_is_not_weighed() {
        let mut e = evidence(1.0, Some(0.0), true);
        e.failures = 5;
        assert_eq!(weigh(e.clone()).bound_by, BoundBy::Server);
        e.stopped = true;
        let v = weigh(e.clone());
        assert_eq!(v.bound_by, BoundBy::NotWeighed, "{}", v.why);
        assert!(
            v.line()
                .starts_with("not weighed: the run was stopped before its end"),
            "{}",
            v.line()
        );
        assert!(
            v.sentence().starts_with("not weighed: "),
            "{}",
            v.sentence()
        );
        assert_eq!(v.way_past, None);
        (e.client, e.kernel.descriptors_exhausted) = (end(97.0), 3);
        assert_eq!(weigh(e.clone()).bound_by, BoundBy::NotWeighed);
        assert_eq!(IntervalBound::of(e).column(), "stopped   97/  0");
    }

    #[test]
    fn overflows_are_the_queue_when_it_is_short_and_the_server_when_it_is_long() {
        let mut e = evidence(30.0, Some(20.0), true);
        e.offered_per_s = Some(10_000.0);
        e.kernel.listen_overflows = 50;
        e.kernel.listen_backlog = Some(8);
        assert_eq!(weigh(e.clone()).bound_by, BoundBy::ListenQueue);
        e.kernel.listen_backlog = Some(4096);
        let v = weigh(e);
        assert_eq!(v.bound_by, BoundBy::Server);
        assert!(v.why.contains("accepted slower"), "{}", v.why);
    }

    #[test]
    fn kernel_resources_come_first() {
        let mut e = evidence(99.0, Some(99.0), true);
        e.kernel.memory_pressures = 1;
        assert_eq!(weigh(e.clone()).bound_by, BoundBy::TcpMemory);
        e.kernel.ports_exhausted = 3;
        assert_eq!(weigh(e.clone()).bound_by, BoundBy::Ports);
        e.kernel.descriptors_exhausted = 3;
        assert_eq!(weigh(e).bound_by, BoundBy::Descriptors);
    }

    #[test]
    fn busy_takes_the_cores_only_when_they_are_the_ends_own() {
        let cores = [CoreBusy {
            cpu: 1,
            busy_pct: 95.0,
        }];
        assert_eq!(busy(60.0, 1, &cores, false), 95.0);
        assert_eq!(busy(60.0, 1, &cores, true), 60.0);
        assert_eq!(busy(180.0, 2, &[], false), 100.0);
        assert_eq!(busy(60.0, 1, &[cores[0], cores[0]], false), 60.0);
    }

    #[test]
    fn lateness_counts_the_share_past_the_bound() {
        let mut h = Latency::new();
        assert_eq!(lateness(&h, "sends", 5.0), None);
        for ms in [1u64, 1, 2, 2, 2, 3, 3, 4, 9, 20] {
            h.record(std::time::Duration::from_millis(ms));
        }
        let l = lateness(&h, "sends", 5.0).expect("ten samples");
        assert_eq!(l.late_pct, 20.0);
        assert!((l.p50_ms - 2.0).abs() < 0.01, "{l:?}");
    }

    #[test]
    fn names_are_what_json_writes() {
        for b in [
            BoundBy::Client,
            BoundBy::ListenQueue,
            BoundBy::Nothing,
            BoundBy::NothingMeasured,
            BoundBy::NotWeighed,
        ] {
            let json = serde_json::to_string(&b).expect("serializes");
            assert_eq!(json, format!("\"{}\"", b.name()));
        }
    }
}
