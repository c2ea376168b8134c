//! The bytes every connection sends, and the check of every byte that comes back.
//!
//! # The streams
//! One block of [`PAGES`] pages (1 MiB) is built once per process and never written again,
//! so a send can hand its pages to the kernel without copying (vmsplice, `sender.rs`). A
//! connection's stream is a sequence of 4 KiB segments, each one whole page of the block:
//! segment `k` of the stream whose key is `K` is page `(byte k mod 8 of K) + ⌊k/8⌋ (mod 256)`.
//!
//! * Every 8-byte word of the block is a different value (a bijective mix of its page and
//!   word number), so two different pages differ in **every** aligned word, and a page
//!   differs from any other place in the block shifted by a multiple of 8 bytes.
//! * A connection's key is a bijective mix of `salt + n`, where `n` is its number in the run
//!   ([`StreamId`]: flood index, churn arrival, probe) and the salt is the run's
//!   ([`Salt`]). Within a run the keys are therefore all different; two runs with different
//!   run ids (or two unsharded runs) get different salts.
//! * Any 8 consecutive segments spell all 8 bytes of the key. So two different connections'
//!   streams differ, at the same offset, somewhere in every stretch that touches 8
//!   consecutive segments (any 32 KiB), and there in every word of a whole segment: a server
//!   that crosses, reorders, drops, duplicates, corrupts or adds bytes is caught. Within a
//!   single 4 KiB segment two given connections share a page with probability 1/256 (the
//!   key bytes are mixed), which is the only place a crossed echo shorter than 32 KiB can
//!   hide.
//! * The position term `⌊k/8⌋` makes a stream's own segments differ from one another, so a
//!   server that replays or reorders whole pages of one connection is caught too (the
//!   pages repeat after 2,048 segments, 8 MiB).
//!
//! Checking an echo is a slice comparison against the pages, nothing generated per byte.
//! Exact bytes are shared by construction at most 1/256 of the time per segment, and never
//! by two connections over 32 KiB; this bound, unlike the one-block-cycle design it
//! replaced (which repeated every 2^20 connections), does not depend on the count.

use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::report::Mismatch;

/// Bytes of a segment: one page of the block.
pub(crate) const SEGMENT: usize = 4096;
/// Pages in the block: a key byte picks one.
const PAGES: usize = 256;
/// 8-byte words in a page.
const WORDS: usize = SEGMENT / 8;
/// The most bytes one send asks for ([`Pattern::pieces`] of this length fit in
/// [`MAX_PIECES`]).
pub(crate) const SEND_MAX: usize = 64 * SEGMENT;
/// Pieces of one send of [`SEND_MAX`] bytes: one per page, plus one when it starts
/// mid-page.
pub(crate) const MAX_PIECES: usize = SEND_MAX / SEGMENT + 1;

/// Domain bits of a stream number: flood connections below, churn arrivals and probes in
/// their own ranges, so no two kinds share a number.
const CHURN: u64 = 1 << 62;
const PROBE: u64 = 1 << 63;
/// Largest flood index with a stream of its own (2^62 − 1).
pub(crate) const MAX_INDEX: u64 = CHURN - 1;

/// A run's salt: what makes its streams differ from another run's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub(crate) struct Salt(pub(crate) u64);

impl Salt {
    /// The salt of every shard of the run `run_id` (FNV-1a, the same on every host and
    /// build, so shards agree without talking).
    pub(crate) fn of_run(run_id: &str) -> Salt {
        let hash = run_id.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
        });
        Salt(mix(hash))
    }

    /// A salt for a run with no id: random, so two such runs against one server differ.
    pub(crate) fn fresh() -> Salt {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Salt(RandomState::new().hash_one((now.as_nanos(), std::process::id())))
    }
}

/// Which stream a connection sends: the mixed key its segments are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StreamId(u64);

impl StreamId {
    /// Flood connection `index` of the run (at most [`MAX_INDEX`]; larger indices wrap).
    pub(crate) fn flood(salt: Salt, index: u64) -> StreamId {
        StreamId::numbered(salt, index & MAX_INDEX)
    }

    /// Churn arrival `arrival` of the loop whose slots start at `first_slot`. A churn slot is
    /// reused, so the arrival, not the slot, names the stream: distinct for slots below 2^32
    /// and 2^30 arrivals per loop.
    pub(crate) fn churn(salt: Salt, first_slot: u64, arrival: u64) -> StreamId {
        let n = (arrival << 32 | (first_slot & 0xFFFF_FFFF)) & MAX_INDEX;
        StreamId::numbered(salt, CHURN | n)
    }

    /// Probe number `seq` (below 2^63).
    pub(crate) fn probe(salt: Salt, seq: u64) -> StreamId {
        StreamId::numbered(salt, PROBE | seq)
    }

    fn numbered(salt: Salt, n: u64) -> StreamId {
        StreamId(mix(salt.0.wrapping_add(n)))
    }

    /// The page that segment `k` of this stream is.
    fn page(self, k: u64) -> usize {
        let byte = (self.0 >> (8 * (k % 8))) as u8;
        usize::from(byte.wrapping_add((k / 8) as u8))
    }
}

/// splitmix64's finalizer: a bijection on u64 that spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A page-aligned page of the block (aligned so a segment is exactly one page to vmsplice).
#[repr(C, align(4096))]
struct Page([u8; SEGMENT]);

/// The shared, read-only block every stream is read from.
pub(crate) struct Pattern {
    pages: Box<[Page]>,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pattern({} pages)", self.pages.len())
    }
}

impl Pattern {
    /// Builds the block (1 MiB, about a millisecond).
    pub(crate) fn new() -> Pattern {
        let pages = (0..PAGES)
            .map(|p| {
                let mut page = Page([0; SEGMENT]);
                for (w, word) in page.0.chunks_exact_mut(8).enumerate() {
                    // Distinct inputs, and mix is a bijection: every word of the block differs.
                    let value = mix(0x2545_F491_4F6C_DD1D ^ (p * WORDS + w) as u64);
                    word.copy_from_slice(&value.to_le_bytes());
                }
                page
            })
            .collect();
        Pattern { pages }
    }

    /// The `len` bytes at `offset` of `stream`, as pieces that each lie within one page.
    pub(crate) fn pieces(
        &self,
        stream: StreamId,
        offset: u64,
        len: usize,
    ) -> impl Iterator<Item = &[u8]> + '_ {
        let end = offset + len as u64;
        let mut at = offset;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let k = at / SEGMENT as u64;
            let from = (at % SEGMENT as u64) as usize;
            let to = (from as u64 + (end - at)).min(SEGMENT as u64) as usize;
            at += (to - from) as u64;
            Some(&self.pages[stream.page(k)].0[from..to])
        })
    }

    /// Checks bytes received at `offset` of `stream`: the first that differs, if any.
    pub(crate) fn verify(&self, stream: StreamId, offset: u64, got: &[u8]) -> Result<(), Mismatch> {
        let mut checked = 0;
        for want in self.pieces(stream, offset, got.len()) {
            let piece = &got[checked..checked + want.len()];
            if want != piece {
                let i = want
                    .iter()
                    .zip(piece)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(Mismatch {
                    offset: offset + (checked + i) as u64,
                    expected: want[i],
                    received: piece[i],
                });
            }
            checked += want.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of `stream` from `offset`, joined.
    fn bytes(p: &Pattern, stream: StreamId, offset: u64, len: usize) -> Vec<u8> {
        p.pieces(stream, offset, len).collect::<Vec<_>>().concat()
    }

    /// Whether two streams differ at `offset` in every one of the `n` segments from there
    /// that their keys set apart, and somewhere in any 8 consecutive segments.
    fn apart_everywhere(p: &Pattern, a: StreamId, b: StreamId, first_segment: u64) {
        let mut since_differed = 0;
        for k in first_segment..first_segment + 64 {
            let at = k * SEGMENT as u64;
            let (x, y) = (bytes(p, a, at, SEGMENT), bytes(p, b, at, SEGMENT));
            if a.page(k) == b.page(k) {
                assert_eq!(x, y);
                since_differed += 1;
                assert!(
                    since_differed < 8,
                    "{a:?} and {b:?} agree on 8 segments at {k}"
                );
            } else {
                since_differed = 0;
                // Different pages differ in every word.
                for (wx, wy) in x.chunks(8).zip(y.chunks(8)) {
                    assert_ne!(wx, wy, "{a:?} and {b:?} share a word in segment {k}");
                }
                assert!(p.verify(a, at, &y).is_err());
            }
        }
    }

    #[test]
    fn every_word_of_the_block_differs() {
        let p = Pattern::new();
        let mut words: Vec<u64> = (p.pages.iter())
            .flat_map(|page| page.0.chunks_exact(8))
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), PAGES * WORDS);
    }

    /// The property the design promises, over index pairs the old 2^20 cycle confused, the
    /// largest indices, probes against flood connections, other runs, and random pairs.
    #[test]
    fn no_two_connections_share_a_stream_at_any_offset() {
        let p = Pattern::new();
        let run = Salt::of_run("1893553445-2097152-abc");
        let flood = |i| StreamId::flood(run, i);
        let mut pairs = vec![
            (flood(0), flood(1 << 20)),
            (flood(1), flood(1 + (1 << 20))),
            (flood(12_345), flood(12_345 + 5 * (1 << 20))),
            (flood(0), flood((1 << 32) - 1)),
            (flood((1 << 32) - 2), flood((1 << 32) - 1)),
            (flood(0), StreamId::probe(run, 0)),
            (flood(1 << 40), StreamId::probe(run, 0)),
            (flood(7), StreamId::churn(run, 7, 0)),
            (StreamId::churn(run, 7, 0), StreamId::churn(run, 7, 1)),
            (flood(0), StreamId::flood(Salt::of_run("another-run"), 0)),
            (flood(0), StreamId::flood(Salt::fresh(), 0)),
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            state = mix(state);
            let (i, j) = (state % (1 << 33), mix(state) % (1 << 33));
            if i != j {
                pairs.push((flood(i), flood(j)));
            }
        }
        for (n, (a, b)) in pairs.into_iter().enumerate() {
            assert_ne!(a, b, "pair {n}");
            apart_everywhere(&p, a, b, (n as u64 * 997) % 4096);
        }
    }

    #[test]
    fn keys_are_distinct_around_every_power_of_two() {
        let run = Salt::of_run("r");
        let mut keys = std::collections::HashSet::new();
        for base in [0u64, 1 << 20, 1 << 32, MAX_INDEX - 1000] {
            for i in base..base + 1000 {
                assert!(keys.insert(StreamId::flood(run, i)), "index {i}");
            }
        }
        for seq in 0..1000 {
            assert!(keys.insert(StreamId::probe(run, seq)), "probe {seq}");
            assert!(keys.insert(StreamId::churn(run, 0, seq)), "arrival {seq}");
        }
    }

    #[test]
    fn a_stream_is_unlike_itself_shifted() {
        let p = Pattern::new();
        let s = StreamId::flood(Salt(3), 42);
        let whole = bytes(&p, s, 0, 64 * SEGMENT);
        for shift in [1usize, 8, 64, SEGMENT, 8 * SEGMENT] {
            let later = &whole[shift..shift + 8 * SEGMENT];
            assert!(p.verify(s, 0, later).is_err(), "shift {shift} passed");
        }
    }

    #[test]
    fn pieces_stay_within_a_page_and_join_to_the_stream() {
        let p = Pattern::new();
        let s = StreamId::flood(Salt(1), 9);
        let whole = bytes(&p, s, 0, 3 * SEGMENT);
        let pieces: Vec<&[u8]> = p.pieces(s, 100, SEND_MAX).collect();
        assert_eq!(pieces.len(), MAX_PIECES);
        assert_eq!(pieces[0].len(), SEGMENT - 100);
        assert_eq!(
            pieces.concat()[..2 * SEGMENT],
            whole[100..100 + 2 * SEGMENT]
        );
        for piece in &pieces[1..pieces.len() - 1] {
            assert_eq!(piece.len(), SEGMENT);
            assert_eq!(
                piece.as_ptr() as usize % SEGMENT,
                0,
                "a whole page is one page"
            );
        }
        assert_eq!(p.pieces(s, 5, 0).count(), 0);
    }

    #[test]
    fn verify_names_the_first_bad_byte() {
        let p = Pattern::new();
        let s = StreamId::flood(Salt(0), 3);
        let mut data = bytes(&p, s, 5000, 10_000);
        assert_eq!(p.verify(s, 5000, &data), Ok(()));
        data[6123] ^= 0x40;
        let m = p.verify(s, 5000, &data).expect_err("flipped byte");
        assert_eq!(m.offset, 11_123);
        assert_eq!(m.received, m.expected ^ 0x40);
    }
}
