//! `--shard K/N`: this process is shard K of N of one run spread over several hosts. Shards
//! count from 0 (`0/3`, `1/3`, `2/3`), as a Kubernetes Indexed Job's completion index and
//! an Ansible host's position do, so both pass theirs straight through. `-c` is the whole
//! run's count: shard K opens connections `C*K/N .. C*(K+1)/N`, so no two shards share a
//! connection index, and every shard derives the run's pattern salt from the run id, so no
//! two shards share a stream: an echo crossed between hosts is caught (`verifier.rs`).
//!
//! Every shard of a run carries the run's id: `--run-id`, or by default one derived from
//! the start time, N and the workload ([`default_run_id`]), which every host computes
//! alike from the same command line, so shards agree without talking to each other.

use std::fmt;
use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::report::Shards;

/// Shard `k` of `n` (0 <= k < n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ShardOf {
    /// This shard, from 0.
    pub(crate) k: u64,
    /// Shards in the run.
    pub(crate) n: u64,
}

impl ShardOf {
    /// `--shard`'s value parser: `K/N` with 0 <= K < N.
    pub(crate) fn parse(text: &str) -> Result<ShardOf, String> {
        let bad = || format!("`{text}` is not a shard: want K/N with 0 <= K < N, e.g. 0/3");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k >= n {
            return Err(bad());
        }
        Ok(ShardOf { k, n })
    }

    /// This shard's connection indices out of the run's `connections`.
    pub(crate) fn indices(&self, connections: u64) -> Range<u64> {
        super::slice(&(0..connections), self.k, self.n)
    }
}

impl fmt::Display for ShardOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// What a shard process knows of the run it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ShardRun {
    /// Which shard.
    pub(crate) of: ShardOf,
    /// The run's id, the same on every shard.
    pub(crate) run_id: String,
    /// The run's connections over all shards (`-c`).
    pub(crate) connections: u64,
    /// What every shard of the run must share (see `RunConfig::fingerprint`).
    pub(crate) config: String,
}

impl ShardRun {
    /// The shard part of this shard's report, once its run is done.
    pub(crate) fn stamp(&self, peak_concurrent: u64, connections_requested: u64) -> Shards {
        Shards {
            run_id: self.run_id.clone(),
            config: self.config.clone(),
            count: self.of.n,
            done: vec![self.of.k],
            short_at_gate: if peak_concurrent < connections_requested {
                vec![self.of.k]
            } else {
                Vec::new()
            },
            largest_peak: peak_concurrent,
            verdict: None,
        }
    }
}

/// The run id every shard derives alike: the start time in Unix seconds, N, and a 32-bit
/// FNV-1a hash of the run's fingerprint (stable across builds and hosts, unlike std's
/// hasher), e.g. `1893553445-3-5f2ce1a0`.
pub(crate) fn default_run_id(start_at_us: u64, n: u64, config: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in config.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    format!("{}-{n}-{hash:08x}", start_at_us / 1_000_000)
}

/// `--run-id`'s value parser: letters, digits and `._:-`, so it fits a file name, a label
/// and a command line unquoted.
pub(crate) fn parse_run_id(text: &str) -> Result<String, String> {
    let fits = |c: char| c.is_ascii_alphanumeric() || "._:-".contains(c);
    if text.is_empty() || text.len() > 63 || !text.chars().all(fits) {
        return Err(format!(
            "`{text}` is not a run id: want 1 to 63 letters, digits or ._:-"
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_indices_without_gap_or_overlap() {
        for (c, n) in [(6000, 3), (10, 3), (7, 7), (1, 1), (u64::MAX, 4)] {
            let parts: Vec<Range<u64>> = (0..n).map(|k| ShardOf { k, n }.indices(c)).collect();
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts[n as usize - 1].end, c);
            for pair in parts.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
        }
        assert_eq!(ShardOf { k: 1, n: 3 }.indices(6000), 2000..4000);
    }

    #[test]
    fn shard_numbers_count_from_zero_below_n() {
        assert_eq!(ShardOf::parse("0/3"), Ok(ShardOf { k: 0, n: 3 }));
        assert_eq!(ShardOf::parse(" 2 / 3 "), Ok(ShardOf { k: 2, n: 3 }));
        for bad in ["3/3", "1/0", "1", "a/3", "-1/3", "1/3/4"] {
            let err = ShardOf::parse(bad).unwrap_err();
            assert!(err.contains("K/N"), "{bad}: {err}");
        }
        assert_eq!(ShardOf { k: 1, n: 3 }.to_string(), "1/3");
    }

    #[test]
    fn the_default_run_id_depends_on_start_n_and_config_only() {
        let id = default_run_id(1_893_553_445_250_000, 3, "workload a");
        assert_eq!(id, default_run_id(1_893_553_445_250_000, 3, "workload a"));
        assert!(id.starts_with("1893553445-3-"), "{id}");
        assert_ne!(id, default_run_id(1_893_553_445_250_000, 3, "workload b"));
        assert_ne!(id, default_run_id(1_893_553_445_250_000, 4, "workload a"));
        assert_ne!(id, default_run_id(1_893_553_446_250_000, 3, "workload a"));
        assert!(parse_run_id(&id).is_ok());
        assert!(parse_run_id("nightly-7").is_ok());
        for bad in ["", "a b", "x/y", &"z".repeat(64)] {
            assert!(parse_run_id(bad).unwrap_err().contains("run id"), "{bad}");
        }
    }
}
