//! The shard part of a report (`--shard K/N`): which run and which shards it covers, and,
//! once `merge` has every shard, whether the shards' connections were all open at once.
//!
//! Joining two reports checks they belong together (one run id, one configuration, one N,
//! no shard twice) before anything is added, so a wrong merge changes nothing.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many shards an error names before it counts the rest: N is the user's.
const NAMED: usize = 10;

/// Which run a report is (part of), and which of its shards it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Shards {
    /// The run's id (`--run-id`, or derived from the start time, N and the workload).
    pub run_id: String,
    /// What every shard of the run shares (target, connections, workload, start, N).
    pub config: String,
    /// Shards in the run (N).
    pub count: u64,
    /// The shards this report covers, ascending (from 0).
    pub done: Vec<u64>,
    /// Shards that did not hold all their connections when their gate opened.
    pub short_at_gate: Vec<u64>,
    /// The largest single shard's `peak_concurrent`: all a merge can claim was open at once
    /// when the shards did not start together.
    pub largest_peak: u64,
    /// Set by `merge` once every shard is in.
    pub verdict: Option<Together>,
}

/// Whether the shards' connections were all open at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Together {
    /// First to last gate opening over every shard (and every process and loop in them), by
    /// each host's own clock.
    pub start_skew_ms: f64,
    /// The skew allowed (`merge --max-skew`).
    pub max_skew_ms: f64,
    /// True when the gates opened within the allowed skew and every shard held all its
    /// connections at its gate: the report's `peak_concurrent` is then the sum of the
    /// shards' peaks; otherwise it is the largest single shard's.
    pub coexisted: bool,
}

impl Shards {
    /// The shard numbers as `1/3, 2/3`.
    fn names(&self, shards: &[u64]) -> String {
        let names: Vec<String> = shards
            .iter()
            .map(|k| format!("{k}/{}", self.count))
            .collect();
        names.join(", ")
    }

    /// Adds `other`'s shards to `mine` (`None` on both sides: no shard run, nothing to do),
    /// or says why the two cannot be one run; on error nothing is changed. `first`: `mine`
    /// holds nothing yet and takes `other` as it is.
    pub(crate) fn join(
        mine: &mut Option<Shards>,
        other: &Option<Shards>,
        first: bool,
    ) -> Result<(), String> {
        if let Some(b) = other {
            b.check()?;
        }
        if first {
            mine.clone_from(other);
            return Ok(());
        }
        let (a, b) = match (mine.as_mut(), other) {
            (None, None) => return Ok(()),
            (Some(a), Some(b)) => (a, b),
            (Some(a), None) => return Err(beside_whole_run(&a.run_id)),
            (None, Some(b)) => return Err(beside_whole_run(&b.run_id)),
        };
        if a.run_id != b.run_id {
            return Err(format!(
                "shards of two different runs: run {} and run {}: merge the shards of one run \
                 only (give every shard the same --start-at and workload, or the same --run-id)",
                a.run_id, b.run_id
            ));
        }
        if a.count != b.count || a.config != b.config {
            return Err(format!(
                "run {} was started with two configurations: `{}` ({} shards) and `{}` ({} \
                 shards): run every shard with the same flags but --shard",
                a.run_id, a.config, a.count, b.config, b.count
            ));
        }
        let twice: Vec<u64> = b
            .done
            .iter()
            .filter(|k| a.done.contains(k))
            .copied()
            .collect();
        if !twice.is_empty() {
            return Err(format!(
                "shard {} of run {} is given twice: give each shard's report once (and each \
                 host its own --shard K/{})",
                a.names(&twice),
                a.run_id,
                a.count
            ));
        }
        a.done.extend(&b.done);
        a.done.sort_unstable();
        a.short_at_gate.extend(&b.short_at_gate);
        a.short_at_gate.sort_unstable();
        a.largest_peak = a.largest_peak.max(b.largest_peak);
        Ok(())
    }

    /// A report's own shard part, as read: every shard it names is one of the run's (a file
    /// written by hand or cut short could say otherwise).
    fn check(&self) -> Result<(), String> {
        let Some(&k) = self
            .done
            .iter()
            .chain(&self.short_at_gate)
            .find(|&&k| k >= self.count)
        else {
            return Ok(());
        };
        Err(format!(
            "run {}'s report names shard {k}/{}, which no run has (shards count from 0 to \
             N-1): give the reports flood-client wrote, whole",
            self.run_id, self.count
        ))
    }

    /// The shards of the run that no report covered: the first `at_most` of them, and how
    /// many in all (counted, not listed, since N is the user's).
    pub(crate) fn missing(&self, at_most: usize) -> (Vec<u64>, u64) {
        let first = (0..self.count)
            .filter(|k| !self.done.contains(k))
            .take(at_most)
            .collect();
        (first, self.count.saturating_sub(self.done.len() as u64))
    }

    /// Error text naming the missing shards (the first [`NAMED`]), if any.
    pub(crate) fn missing_error(&self) -> Option<String> {
        let (first, all) = self.missing(NAMED);
        (all > 0).then(|| {
            let noun = if all == 1 { "shard" } else { "shards" };
            let verb = if self.done.len() == 1 { "is" } else { "are" };
            format!(
                "{noun} {} missing: run {} has {} shards and only {} {verb} here; merge the \
                 report of every shard (a shard that failed still writes one)",
                self.some_names(&first, all),
                self.run_id,
                self.count,
                self.some_names(&self.done, self.done.len() as u64),
            )
        })
    }

    /// The first [`NAMED`] of `shards` as `1/3, 2/3`, then how many more of `all` there are.
    fn some_names(&self, shards: &[u64], all: u64) -> String {
        let shown = &shards[..shards.len().min(NAMED)];
        match all.saturating_sub(shown.len() as u64) {
            0 => self.names(shown),
            more => format!("{} and {more} more", self.names(shown)),
        }
    }

    /// The human lines of the shard part.
    pub(crate) fn describe(&self, out: &mut String, gates_unix_us: [u64; 2]) {
        let gate = hostkit::calendar::rfc3339_ms(gates_unix_us[0]);
        let _ = writeln!(
            out,
            "  shards       {} of run {} (gate opened {gate})",
            self.names(&self.done),
            self.run_id
        );
        if !self.short_at_gate.is_empty() {
            let _ = writeln!(
                out,
                "  late         shard {} did not hold all its connections when its gate opened",
                self.names(&self.short_at_gate)
            );
        }
        if let Some(v) = &self.verdict {
            let what = if v.coexisted {
                "the sum of the shards' peaks was open at once".to_string()
            } else {
                format!(
                    "NOT shown to be open at once: peak concurrent is the largest shard's ({})",
                    self.largest_peak
                )
            };
            let _ = writeln!(
                out,
                "  start skew   {:.3} ms (allowed {:.3} ms): {what}",
                v.start_skew_ms, v.max_skew_ms
            );
        }
    }
}

fn beside_whole_run(run_id: &str) -> String {
    format!(
        "a shard report (run {run_id}) and a report of a whole run cannot be merged: merge \
         the shards of one run only"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn shard(run: &str, k: u64, n: u64) -> Option<Shards> {
        Some(Shards {
            run_id: run.into(),
            config: "cfg".into(),
            count: n,
            done: vec![k],
            short_at_gate: Vec::new(),
            largest_peak: 10 * (k + 1),
            verdict: None,
        })
    }

    #[test]
    fn shards_of_one_run_join_and_the_missing_one_is_named() {
        let mut all = None;
        Shards::join(&mut all, &shard("r", 2, 3), true).unwrap();
        Shards::join(&mut all, &shard("r", 0, 3), false).unwrap();
        let all = all.unwrap();
        assert_eq!(all.done, [0, 2]);
        assert_eq!(all.largest_peak, 30);
        assert_eq!(all.missing(10), (vec![1], 1));
        let err = all.missing_error().unwrap();
        assert!(err.starts_with("shard 1/3 missing"), "{err}");
    }

    /// N is the user's (`--shard 0/1000000000` is a valid one-shard run): the missing are
    /// counted and the first ten named, not listed a billion long.
    #[test]
    fn a_run_of_a_billion_shards_names_ten_missing_and_counts_the_rest() {
        let one = shard("r", 3, 1_000_000_000).unwrap();
        let err = one.missing_error().unwrap();
        assert!(
            err.starts_with(
                "shards 0/1000000000, 1/1000000000, 2/1000000000, 4/1000000000, \
                 5/1000000000, 6/1000000000, 7/1000000000, 8/1000000000, 9/1000000000, \
                 10/1000000000 and 999999989 more missing: run r has 1000000000 shards and \
                 only 3/1000000000 is here"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_report_naming_a_shard_no_run_has_is_refused() {
        let mut bad = shard("r", 1, 3);
        if let Some(b) = bad.as_mut() {
            b.done = vec![u64::MAX];
        }
        let mut all = None;
        let err = Shards::join(&mut all, &bad, true).unwrap_err();
        assert!(err.contains("names shard 18446744073709551615/3"), "{err}");
        assert!(all.is_none());
    }

    #[test]
    fn shards_of_other_runs_twice_or_beside_a_whole_run_are_refused_unchanged() {
        let mut all = shard("r", 0, 3);
        let before = all.clone();
        let err = Shards::join(&mut all, &shard("q", 1, 3), false).unwrap_err();
        assert!(
            err.contains("two different runs") && err.contains("--run-id"),
            "{err}"
        );
        let err = Shards::join(&mut all, &shard("r", 0, 3), false).unwrap_err();
        assert!(err.contains("shard 0/3 of run r is given twice"), "{err}");
        let err = Shards::join(&mut all, &shard("r", 1, 4), false).unwrap_err();
        assert!(err.contains("two configurations"), "{err}");
        let err = Shards::join(&mut all, &None, false).unwrap_err();
        assert!(err.contains("whole run"), "{err}");
        assert_eq!(all, before);
        let mut none = None;
        Shards::join(&mut none, &None, false).unwrap();
        assert!(none.is_none());
    }
}
