//! `flood-client saturate`: an endless flood for a fixed time, with /proc sampled every
//! second and, optionally, the client-delay probe running alongside.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::cli::SaturateArgs;
use crate::config::RunConfig;
use crate::engine::intervals::unix_us;
use crate::fleet;
use crate::fleet::tui;
use crate::modes::flood::{chart, prepare};
use crate::modes::probe::{self, ProbeConfig, ProbeReport};
use crate::modes::publish;
use crate::modes::{verdict, USAGE};
use crate::render::timeline::Recorded;
use crate::report::stdout::Printer;
use crate::report::stream::FinalReport;
use crate::report::Outcome;
use crate::setup::sample::{add_throughput, Sampler, SystemRates};

/// `flood-client saturate`: starts as a flood does, runs, prints the saturation report. Its
/// `--duration` is always given (saturate's command line defaults it).
pub(crate) fn command(args: &SaturateArgs) -> io::Result<ExitCode> {
    if let Some(why) = args.refusal() {
        eprintln!("flood-client: {why}");
        return Ok(ExitCode::from(USAGE));
    }
    let flood_args = &args.flood;
    let mut p = match prepare(flood_args)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let probe = args.probe_interval.map(|interval| ProbeConfig {
        target: p.cfg.target,
        interval,
        count: None,
        duration: None,
        bytes: args.probe_bytes,
        timeout: flood_args.stream.timeout,
        salt: p.cfg.salt,
    });
    let out = &flood_args.output;
    let printer = Printer::new(flood_args.json, out.json_stream, out.quiet);
    let host = publish::start(&printer, &p.cfg, p.server.limit)?;
    let mut report = tui::shown(out.tui, &p.stop, || {
        run(&p.cfg, p.server_pid, p.stop.clone(), probe)
    })?;
    p.server.stop()?;
    report.flood.config = Some(p.cfg);
    report.flood.host = Some(host);
    printer.report(&report.human(), &report)?;
    chart(&flood_args.output, || {
        Recorded::of_report(&report.flood, &report.samples)
    })?;
    Ok(verdict(report.flood.passed))
}

/// Period of /proc samples; also how long the probe waits for the connect phase to pass.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The saturation report (JSON with `--json`; read back by `plot` and `sweep --saturate`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SaturateReport {
    /// The flood itself.
    pub(crate) flood: FinalReport<RunConfig>,
    /// Mean rates over the run (the first second, the connect phase, left out).
    pub(crate) system: Option<SystemRates>,
    /// Every one-second sample.
    pub(crate) samples: Vec<SystemRates>,
    /// The client-delay probe, if it ran.
    pub(crate) probe: Option<ProbeReport>,
}

impl SaturateReport {
    /// The human report: the flood's table plus the system, server and probe lines.
    pub(crate) fn human(&self) -> String {
        let mut human = self.flood.outcome.human();
        if let Some(s) = &self.system {
            human.push_str(&format!(
                "  system       {:.0} cs/s, {:.0} intr/s, cpu us {:.1}% sy {:.1}% id {:.1}%\n",
                s.cs_per_s, s.intr_per_s, s.us_pct, s.sy_pct, s.id_pct
            ));
            if let (Some(cpu), Some(rss)) = (s.server_cpu_pct, s.server_rss_bytes) {
                human.push_str(&format!(
                    "  server       {cpu:.1}% of a core, RSS up to {:.1} MiB\n",
                    rss as f64 / f64::from(1u32 << 20)
                ));
            }
        }
        if let Some(p) = &self.probe {
            human.push_str(&p.human());
        }
        human
    }
}

/// Runs the endless flood `cfg` (its `duration` set) while sampling the system and the
/// server `server_pid`, and probing with `probe` if given.
pub(crate) fn run(
    cfg: &RunConfig,
    server_pid: Option<u32>,
    stop: Arc<AtomicBool>,
    probe: Option<ProbeConfig>,
) -> io::Result<SaturateReport> {
    let done = Arc::new(AtomicBool::new(false));
    let flood_cfg = cfg.clone();
    let flood = thread::spawn(move || fleet::run_flood(&flood_cfg, server_pid, stop));
    let prober = probe.map(|probe_cfg| {
        let done = done.clone();
        thread::spawn(move || {
            // Let the connect phase pass first: probe the saturated server, not the storm.
            let start = Instant::now();
            while start.elapsed() < SAMPLE_EVERY && !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(20));
            }
            probe::run(&probe_cfg, &done)
        })
    });
    let mut sampler = Sampler::new(server_pid);
    sampler.sample();
    // Sample on whole seconds of Unix time, where the flood's intervals also close.
    let period = SAMPLE_EVERY.as_micros() as u64;
    let unix = unix_us(SystemTime::now());
    let mut next = Instant::now() + Duration::from_micros(period - unix % period);
    while !flood.is_finished() {
        if Instant::now() >= next {
            sampler.sample();
            next += SAMPLE_EVERY;
        }
        thread::sleep(Duration::from_millis(20));
    }
    done.store(true, Ordering::Relaxed);
    let flood = flood
        .join()
        .map_err(|_| io::Error::other("the flood thread panicked"))??;
    let probe = match prober {
        Some(h) => Some(
            h.join()
                .map_err(|_| io::Error::other("the probe panicked"))?,
        ),
        None => None,
    };
    add_throughput(&mut sampler.intervals, &flood.intervals);
    Ok(SaturateReport {
        system: sampler.summary(),
        flood: FinalReport::new(Outcome::from(flood), None, None),
        samples: sampler.intervals,
        probe,
    })
}
