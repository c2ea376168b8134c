//! Latency histograms (HdrHistogram, microseconds) that travel between processes and hosts
//! serialized, so merged percentiles are exact: percentiles themselves do not add.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// Highest latency recorded exactly: one hour, in microseconds (longer is clamped).
const MAX_US: u64 = 3_600_000_000;

/// A latency distribution in microseconds.
#[derive(Clone)]
pub struct Latency(Histogram<u64>);

impl Latency {
    /// An empty histogram with three significant digits. It grows its range to the largest
    /// value recorded (at most [`MAX_US`]) instead of holding the whole hour from the start:
    /// a fixed one-hour range is ~190 KB of counts, and a run keeps one per interval per
    /// second; one that saw at most 10 ms holds ~40 KB.
    pub fn new() -> Latency {
        Latency(Histogram::new(3).expect("three significant digits are valid"))
    }

    /// Records one duration (clamped to 1 µs .. 1 h).
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, MAX_US);
        // Grows the range as needed (a saturating record would clamp to the current one).
        if self.0.record(us).is_err() {
            self.0.saturating_record(us);
        }
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// The summary printed and written to JSON.
    pub fn summary(&self) -> Percentiles {
        let q = |q: f64| {
            if self.0.is_empty() {
                0
            } else {
                self.0.value_at_quantile(q)
            }
        };
        Percentiles {
            count: self.0.len(),
            mean_us: if self.0.is_empty() {
                0.0
            } else {
                self.0.mean()
            },
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if self.0.is_empty() { 0 } else { self.0.max() },
        }
    }
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl fmt::Debug for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Latency({:?})", self.summary())
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(|e| serde::ser::Error::custom(format!("histogram: {e:?}")))?;
        s.serialize_str(&STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("histogram base64: {e}")))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| serde::de::Error::custom(format!("histogram: {e:?}")))?;
        let mut latency = Latency::new();
        latency
            .0
            .add(&h)
            .map_err(|e| serde::de::Error::custom(format!("histogram bounds: {e:?}")))?;
        Ok(latency)
    }
}

impl JsonSchema for Latency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Latency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "contentEncoding": "base64",
            "description": "An HdrHistogram of microseconds (V2 serialization, base64): merge \
                these, never percentiles."
        })
    }
}

/// Percentiles of a [`Latency`], in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest sample.
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_holds_only_the_range_it_saw_and_still_takes_an_hour() {
        let mut small = Latency::new();
        small.record(Duration::from_millis(10));
        let mut whole = Latency::new();
        whole.record(Duration::from_secs(3600));
        assert!(
            small.0.distinct_values() * 4 < whole.0.distinct_values(),
            "{} counts for 10 ms, {} for an hour",
            small.0.distinct_values(),
            whole.0.distinct_values()
        );
        let max = whole.summary().max_us as f64;
        assert!((max - 3.6e9).abs() / 3.6e9 < 1e-3, "{max}");
        // Merging a wider one into a narrower one grows it, and loses nothing.
        small.merge(&whole);
        assert_eq!(small.summary().count, 2);
        assert!((small.summary().max_us as f64 - 3.6e9).abs() / 3.6e9 < 1e-3);
        let mut far = Latency::new();
        far.record(Duration::from_secs(100_000));
        assert!(
            (far.summary().max_us as f64 - 3.6e9).abs() / 3.6e9 < 1e-3,
            "clamped to an hour"
        );
    }

    #[test]
    fn serialized_histograms_merge_exactly() {
        let (mut a, mut b, mut both) = (Latency::new(), Latency::new(), Latency::new());
        for us in 1..=1000u64 {
            let d = Duration::from_micros(us * 7);
            if us % 3 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            both.record(d);
        }
        let a2: Latency = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        let b2: Latency = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        let mut merged = a2;
        merged.merge(&b2);
        assert_eq!(merged.summary(), both.summary());
        assert!(serde_json::from_str::<Latency>("\"not base64!\"").is_err());
    }
}
