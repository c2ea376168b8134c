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
pub struct Latency(Counts);

/// A [`Latency`]'s samples: counting, or packed once final.
#[derive(Clone)]
enum Counts {
    /// The HdrHistogram itself: one count per bucket of the range seen so far.
    Live(Histogram<u64>),
    /// Its V2 serialization (runs of empty buckets collapsed): a few hundred bytes where the
    /// live form holds tens of kilobytes. What a run keeps for each finished interval.
    Packed(Box<[u8]>),
}

impl Latency {
    /// An empty histogram with three significant digits. It grows its range to the largest
    /// value recorded (at most [`MAX_US`]) instead of holding the whole hour from the start:
    /// a fixed one-hour range is ~190 KB of counts; one that saw at most 10 ms holds ~32 KB.
    pub fn new() -> Latency {
        Latency(Counts::Live(empty()))
    }

    /// Records one duration (clamped to 1 µs .. 1 h).
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, MAX_US);
        let h = self.live();
        // Grows the range as needed (a saturating record would clamp to the current one).
        if h.record(us).is_err() {
            h.saturating_record(us);
        }
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latency) {
        let other = other.histogram();
        // Both grow their range on demand, so adding cannot fail.
        let _ = self.live().add(&*other);
    }

    /// Packs a distribution that will take no more samples into its serialized form (it
    /// unpacks itself if it ever does). A run keeps one per interval, so a long run's
    /// series grows by hundreds of bytes a second instead of tens of kilobytes.
    pub(crate) fn pack(&mut self) {
        if let Counts::Live(h) = &self.0 {
            self.0 = Counts::Packed(serialized(h).into_boxed_slice());
        }
    }

    /// Whether [`Latency::pack`] packed it (and nothing unpacked it since).
    #[cfg(test)]
    pub(crate) fn is_packed(&self) -> bool {
        matches!(self.0, Counts::Packed(_))
    }

    /// The summary printed and written to JSON.
    pub fn summary(&self) -> Percentiles {
        let h = self.histogram();
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        Percentiles {
            count: h.len(),
            mean_us: if h.is_empty() { 0.0 } else { h.mean() },
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if h.is_empty() { 0 } else { h.max() },
        }
    }

    /// Percent of the samples above `us` microseconds (0 with no sample).
    pub fn pct_above(&self, us: u64) -> f64 {
        let h = self.histogram();
        if h.is_empty() {
            return 0.0;
        }
        let above = h.len() - h.count_between(0, us);
        100.0 * above as f64 / h.len() as f64
    }

    /// The histogram to count into, unpacked first if need be.
    fn live(&mut self) -> &mut Histogram<u64> {
        if let Counts::Packed(bytes) = &self.0 {
            self.0 = Counts::Live(unpacked(bytes));
        }
        match &mut self.0 {
            Counts::Live(h) => h,
            Counts::Packed(_) => unreachable!("unpacked just above"),
        }
    }

    /// The histogram to read: borrowed if live, unpacked into a copy if packed.
    fn histogram(&self) -> std::borrow::Cow<'_, Histogram<u64>> {
        match &self.0 {
            Counts::Live(h) => std::borrow::Cow::Borrowed(h),
            Counts::Packed(bytes) => std::borrow::Cow::Owned(unpacked(bytes)),
        }
    }
}

/// An empty histogram of [`DIGITS`] significant digits (`Histogram::new` makes it
/// auto-resizing).
fn empty() -> Histogram<u64> {
    Histogram::new(DIGITS as u8).expect("three significant digits are valid")
}

/// `h` in V2 serialization. Writing to memory cannot fail.
fn serialized(h: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = V2Serializer::new().serialize(h, &mut bytes);
    bytes
}

/// Bytes [`Latency::pack`] wrote, read back and made auto-resizing again (never bytes from
/// outside: those go through `Deserialize`, which reports what is wrong with them).
fn unpacked(bytes: &[u8]) -> Histogram<u64> {
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("bytes serialized from a valid histogram by this module read back");
    h.auto(true);
    h
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
        let text = match &self.0 {
            Counts::Live(h) => STANDARD.encode(serialized(h)),
            Counts::Packed(bytes) => STANDARD.encode(bytes),
        };
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("histogram base64: {e}")))?;
        payload(&bytes)
            .and_then(readable_entries)
            .map_err(|e| serde::de::Error::custom(format!("histogram: {e}")))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| serde::de::Error::custom(format!("histogram: {e:?}")))?;
        let mut latency = Latency::new();
        latency
            .live()
            .add(&h)
            .map_err(|e| serde::de::Error::custom(format!("histogram bounds: {e:?}")))?;
        Ok(latency)
    }
}

/// The V2 serialization's cookie (uncompressed), the only form this module writes.
const V2_COOKIE: u32 = 0x1c84_9313;
/// Bytes of a V2 header: cookie, payload length, normalizing offset, significant digits
/// (u32 each), lowest and highest trackable value (u64 each), integer-to-double ratio (f64).
const V2_HEADER: usize = 40;
/// Significant digits of the histograms this module makes ([`empty`]).
const DIGITS: u32 = 3;

/// The payload of a serialized histogram, once what its header says is checked against the
/// bytes there are, before anything is allocated from it: its payload fits in them, and its
/// precision is this module's (each further digit is ten times the counts). Deserializing
/// trusts the header: a 56-byte text claiming a 4 GiB payload allocated 4 GiB.
fn payload(bytes: &[u8]) -> Result<&[u8], String> {
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if bytes.len() < V2_HEADER {
        return Err(format!(
            "{} bytes, shorter than a V2 header ({V2_HEADER})",
            bytes.len()
        ));
    }
    if word(0) != V2_COOKIE {
        return Err(format!(
            "cookie {:#010x} is not an uncompressed V2 histogram's ({V2_COOKIE:#010x})",
            word(0)
        ));
    }
    let (payload, follow) = (word(4) as usize, bytes.len() - V2_HEADER);
    if payload > follow {
        return Err(format!(
            "its header says a {payload}-byte payload and only {follow} bytes follow"
        ));
    }
    if word(12) != DIGITS {
        return Err(format!(
            "{} significant digits, where flood-client writes {DIGITS}",
            word(12)
        ));
    }
    Ok(&bytes[V2_HEADER..V2_HEADER + payload])
}

/// Checks a V2 payload holds no entry hdrhistogram 7.6 cannot read. Each entry is a varint
/// of at most 9 bytes (7 bits a byte while the top bit says more follow, the ninth byte
/// whole), zig-zag encoding a count or, negative, a run of empty buckets; the entry of nine
/// `0xff` bytes decodes to i64::MIN, which the crate negates: an overflow, a panic in a
/// debug build (a release build wraps it, and the crate refuses the negative length). No
/// histogram writes it: a run that long is 2^63 buckets.
fn readable_entries(payload: &[u8]) -> Result<(), String> {
    const UNREADABLE: [u8; 9] = [0xff; 9];
    let mut at = 0;
    while at < payload.len() {
        let entry = &payload[at..];
        if entry.starts_with(&UNREADABLE) {
            return Err(format!(
                "payload byte {at} says a run of 2^63 empty buckets, which no histogram \
                 holds: the report is damaged or hand-edited; give the one flood-client wrote"
            ));
        }
        // One past the entry's last byte (a cut-off last entry is the crate's to refuse).
        at += entry
            .iter()
            .take(8)
            .position(|b| b & 0x80 == 0)
            .map_or(9, |last| last + 1);
    }
    Ok(())
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

/// Percentiles of a [`Latency`], in microseconds. With no sample there is no figure: JSON
/// says `null` for each (through [`PercentilesJson`]) and the human report `—`, never 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(into = "PercentilesJson", from = "PercentilesJson")]
#[schemars(with = "PercentilesJson")]
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

/// [`Percentiles`] as JSON: its figures `null` when it has no sample.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct PercentilesJson {
    /// Samples.
    pub count: u64,
    /// Mean (`null`: no sample).
    pub mean_us: Option<f64>,
    /// Median.
    pub p50_us: Option<u64>,
    /// 90th percentile.
    pub p90_us: Option<u64>,
    /// 99th percentile.
    pub p99_us: Option<u64>,
    /// 99.9th percentile.
    pub p999_us: Option<u64>,
    /// Largest sample.
    pub max_us: Option<u64>,
}

impl From<Percentiles> for PercentilesJson {
    fn from(p: Percentiles) -> PercentilesJson {
        let some = |v: u64| (p.count > 0).then_some(v);
        PercentilesJson {
            count: p.count,
            mean_us: (p.count > 0).then_some(p.mean_us),
            p50_us: some(p.p50_us),
            p90_us: some(p.p90_us),
            p99_us: some(p.p99_us),
            p999_us: some(p.p999_us),
            max_us: some(p.max_us),
        }
    }
}

impl From<PercentilesJson> for Percentiles {
    fn from(j: PercentilesJson) -> Percentiles {
        Percentiles {
            count: j.count,
            mean_us: j.mean_us.unwrap_or_default(),
            p50_us: j.p50_us.unwrap_or_default(),
            p90_us: j.p90_us.unwrap_or_default(),
            p99_us: j.p99_us.unwrap_or_default(),
            p999_us: j.p999_us.unwrap_or_default(),
            max_us: j.max_us.unwrap_or_default(),
        }
    }
}

impl Percentiles {
    /// `us` in milliseconds to three decimals, or `—` when there is no sample (the figure
    /// does not exist, and 0.000 would say it was instant).
    pub fn ms(&self, us: u64) -> String {
        if self.count == 0 {
            "—".to_string()
        } else {
            format!("{:.3}", us as f64 / 1e3)
        }
    }
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
            small.histogram().distinct_values() * 4 < whole.histogram().distinct_values(),
            "{} counts for 10 ms, {} for an hour",
            small.histogram().distinct_values(),
            whole.histogram().distinct_values()
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
    fn a_packed_histogram_is_small_and_reads_merges_and_counts_as_before() {
        // An interval's round trips: most near the median, a tail out to 10 ms.
        let mut live = Latency::new();
        for i in 1..=5000u64 {
            let us = if i % 100 == 0 {
                1000 + i * 37 % 9000
            } else {
                200 + i * 7919 % 200
            };
            live.record(Duration::from_micros(us));
        }
        let mut packed = live.clone();
        packed.pack();
        assert!(packed.is_packed());
        let Counts::Packed(bytes) = &packed.0 else {
            unreachable!()
        };
        let live_bytes = live.histogram().distinct_values() * std::mem::size_of::<u64>();
        assert!(
            bytes.len() * 10 < live_bytes,
            "{} bytes packed against {live_bytes} live",
            bytes.len()
        );
        assert_eq!(packed.summary(), live.summary());
        assert_eq!(
            serde_json::to_string(&packed).unwrap(),
            serde_json::to_string(&live).unwrap()
        );
        // Merging into and out of a packed one, and recording into it, lose nothing.
        let mut sum = Latency::new();
        sum.merge(&packed);
        sum.merge(&live);
        packed.merge(&live);
        assert_eq!(sum.summary(), packed.summary());
        assert_eq!(sum.summary().count, 10_000);
        packed.pack();
        packed.record(Duration::from_secs(20));
        assert_eq!(packed.summary().count, 10_001);
        assert!(packed.summary().max_us >= 19_990_000);
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

    #[test]
    fn a_header_is_checked_against_the_bytes_before_they_are_read() {
        let mut one = Latency::new();
        one.record(Duration::from_micros(250));
        let good = serialized(&one.histogram());
        assert_eq!(payload(&good), Ok(&good[V2_HEADER..]));
        let lie = |at: usize, value: u32| {
            let mut bytes = good.clone();
            bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            let text = serde_json::to_string(&STANDARD.encode(&bytes)).unwrap();
            serde_json::from_str::<Latency>(&text)
                .unwrap_err()
                .to_string()
        };
        let err = lie(4, u32::MAX);
        assert!(err.contains("4294967295-byte payload"), "{err}");
        assert!(lie(0, V2_COOKIE + 1).contains("cookie"));
        assert!(lie(12, 5).contains("5 significant digits"));
        assert!(payload(&good[..39]).unwrap_err().contains("shorter"));
    }

    #[test]
    fn a_run_of_empty_buckets_the_crate_cannot_negate_is_refused() {
        // The payload's one entry zig-zag decodes to i64::MIN, which hdrhistogram negates
        // into a run of empty buckets (an overflow: a panic in a debug build).
        let text = serde_json::to_string(&STANDARD.encode(crafted(&[0xff; 9]))).unwrap();
        let err = serde_json::from_str::<Latency>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("payload byte 0"), "{err}");
        // Found where it starts, after other entries (a count of 1, then a 9-byte count).
        let mut payload = vec![0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        payload.extend([0xff; 9]);
        let text = serde_json::to_string(&STANDARD.encode(crafted(&payload))).unwrap();
        let err = serde_json::from_str::<Latency>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("payload byte 10"), "{err}");
        // An entry one bit short of it (a run of about 2^63 empty buckets, which the crate
        // negates and skips) reads as an empty histogram, as it did before: the check refuses
        // that one entry, no more.
        let mut nearly = [0xff; 9];
        nearly[8] = 0xfe;
        let text = serde_json::to_string(&STANDARD.encode(crafted(&nearly))).unwrap();
        assert!(serde_json::from_str::<Latency>(&text).is_ok());
    }

    /// A V2 histogram of three digits, 1 to 2 µs, whose payload is `payload`.
    fn crafted(payload: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&V2_COOKIE.to_be_bytes());
        h.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes()); // normalizing offset
        h.extend_from_slice(&DIGITS.to_be_bytes());
        h.extend_from_slice(&1u64.to_be_bytes()); // lowest
        h.extend_from_slice(&2u64.to_be_bytes()); // highest
        h.extend_from_slice(&1f64.to_be_bytes()); // integer to double ratio
        h.extend_from_slice(payload);
        h
    }
}
