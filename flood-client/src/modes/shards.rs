//! What `merge` concludes of the shards of one run (`--shard K/N`) once every report is in:
//! none missing, and whether the shards started together, which decides what the merged
//! `peak_concurrent` may claim. The checks that two reports belong to one run at all are
//! made as they are joined (`report::Shards`).

use std::time::Duration;

use crate::config::start;
use crate::config::RunConfig;
use crate::report::{Report, Together};

/// Refuses, before anything connects, a start time already past and a shard left without
/// connections, naming the fix.
pub(crate) fn startable(cfg: &RunConfig) -> Result<(), String> {
    if let Some(at) = cfg.start_at {
        let now = start::now_us();
        if at <= now {
            return Err(format!(
                "--start-at {} is {:.3} s in the past (now {}): give a time ahead that leaves \
                 every shard time to connect, e.g. --start-at $(( $(date +%s) + 10 ))",
                hostkit::calendar::rfc3339_ms(at),
                (now - at) as f64 / 1e6,
                hostkit::calendar::rfc3339_ms(now)
            ));
        }
    }
    if let Some(s) = cfg.shard.as_ref().filter(|_| cfg.indices.is_empty()) {
        return Err(format!(
            "shard {} of {} connections has none of its own: -c is the whole run's count, \
             give at least {} (one per shard)",
            s.of, s.connections, s.of.n
        ));
    }
    Ok(())
}

/// Checks that every shard of the run is in and states whether their connections were all
/// open at once: their gates opened within `max_skew` and every shard held all its
/// connections at its gate. If not, `peak_concurrent` becomes the largest single shard's.
/// A report without shards is left as it is. `Err`: a shard is missing (named).
pub(crate) fn conclude(report: &mut Report, max_skew: Duration) -> Result<(), String> {
    let Some(shards) = report.shards.as_mut() else {
        return Ok(());
    };
    if let Some(missing) = shards.missing_error() {
        return Err(missing);
    }
    let [first, last] = report.gates_unix_us;
    let skew_us = last.saturating_sub(first);
    let coexisted = skew_us <= max_skew.as_micros() as u64 && shards.short_at_gate.is_empty();
    if !coexisted {
        report.peak_concurrent = shards.largest_peak;
    }
    shards.verdict = Some(Together {
        start_skew_ms: skew_us as f64 / 1e3,
        max_skew_ms: max_skew.as_secs_f64() * 1e3,
        coexisted,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, Shards};

    /// Shard `k` of 3 of run `r`: 100 connections, `held` of them at a gate opened at `gate`.
    fn shard(k: u64, held: u64, gate: u64) -> Report {
        Report {
            connections_requested: 100,
            connections_ok: held,
            peak_concurrent: held,
            processes: 1,
            go_unix_us: gate,
            shards: Some(Shards {
                run_id: "r".into(),
                config: "cfg".into(),
                count: 3,
                done: vec![k],
                short_at_gate: if held < 100 { vec![k] } else { Vec::new() },
                largest_peak: held,
                verdict: None,
            }),
            ..Report::default()
        }
    }

    fn merged(parts: &[Report]) -> Report {
        let mut all = Report::default();
        for p in parts {
            all.merge(p).expect("one run");
        }
        all
    }

    const MAX: Duration = Duration::from_millis(50);
    const T: u64 = 1_893_553_445_000_000;

    #[test]
    fn shards_that_started_together_sum_their_peaks() {
        let mut all = merged(&[
            shard(0, 100, T),
            shard(2, 100, T + 3_000),
            shard(1, 100, T + 1),
        ]);
        conclude(&mut all, MAX).unwrap();
        let v = all.shards.as_ref().and_then(|s| s.verdict).unwrap();
        assert!(v.coexisted);
        assert_eq!(v.start_skew_ms, 3.0);
        assert_eq!(all.peak_concurrent, 300);
        assert_eq!(all.gates_unix_us, [T, T + 3_000]);
    }

    #[test]
    fn shards_apart_or_short_at_the_gate_claim_only_the_largest_peak() {
        let mut apart = merged(&[
            shard(0, 100, T),
            shard(1, 100, T + 51_000),
            shard(2, 100, T),
        ]);
        conclude(&mut apart, MAX).unwrap();
        assert!(
            !apart
                .shards
                .as_ref()
                .and_then(|s| s.verdict)
                .unwrap()
                .coexisted
        );
        assert_eq!(apart.peak_concurrent, 100);
        let mut short = merged(&[shard(0, 100, T), shard(1, 60, T), shard(2, 100, T)]);
        conclude(&mut short, MAX).unwrap();
        assert!(
            !short
                .shards
                .as_ref()
                .and_then(|s| s.verdict)
                .unwrap()
                .coexisted
        );
        assert_eq!(short.peak_concurrent, 100);
        let human = Outcome::from(short).human();
        assert!(
            human.contains("shard 1/3 did not hold all its connections"),
            "{human}"
        );
        assert!(human.contains("NOT shown to be open at once"), "{human}");
    }

    #[test]
    fn a_missing_shard_is_named() {
        let mut two = merged(&[shard(0, 100, T), shard(2, 100, T)]);
        let err = conclude(&mut two, MAX).unwrap_err();
        assert!(err.starts_with("shard 1/3 missing"), "{err}");
        let mut one = merged(&[shard(1, 100, T)]);
        let err = conclude(&mut one, MAX).unwrap_err();
        assert!(err.starts_with("shards 0/3, 2/3 missing"), "{err}");
    }

    #[test]
    fn reports_without_shards_are_left_alone() {
        let mut plain = merged(&[Report {
            peak_concurrent: 5,
            processes: 1,
            ..Report::default()
        }]);
        conclude(&mut plain, MAX).unwrap();
        assert_eq!(plain.peak_concurrent, 5);
        assert!(plain.shards.is_none());
    }
}
