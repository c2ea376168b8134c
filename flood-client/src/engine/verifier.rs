//! The byte pattern every connection sends, and the check of every byte that comes back.
//!
//! One block of pseudo-random bytes is generated once at start-up. Connection `i` sends the
//! block read cyclically from its own start offset, so its bytes differ from every other
//! connection's (crossed streams are caught) and checking an echo is a slice comparison,
//! with nothing generated per byte while the test runs.

use crate::report::Mismatch;

/// Length of the pattern's cycle. A power of two, so start offsets are a bijection below it.
pub(crate) const PERIOD: usize = 1 << 20;
/// Odd multiplier spreading connection indices over the cycle (distinct for 2^20 indices).
const SPREAD: u64 = 0x9E37_79B9;

/// The shared, read-only pattern block.
#[derive(Debug)]
pub(crate) struct Pattern {
    /// `PERIOD` bytes plus `max_slice` repeated at the end, so any slice is contiguous.
    block: Box<[u8]>,
    max_slice: usize,
}

impl Pattern {
    /// Builds the block; no slice asked of it may be longer than `max_slice`.
    pub(crate) fn new(max_slice: usize) -> Pattern {
        let mut block = vec![0u8; PERIOD + max_slice];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for word in block[..PERIOD].chunks_exact_mut(8) {
            // xorshift64*: fast, deterministic and without short cycles.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        for i in 0..max_slice {
            block[PERIOD + i] = block[i % PERIOD];
        }
        Pattern {
            block: block.into_boxed_slice(),
            max_slice,
        }
    }

    /// Where connection `index`'s stream starts in the cycle.
    pub(crate) fn start_of(index: u64) -> usize {
        (index.wrapping_mul(SPREAD) as usize) & (PERIOD - 1)
    }

    /// The `len` bytes at `offset` of the stream starting at `start`.
    ///
    /// # Panics
    /// If `len` exceeds the `max_slice` the pattern was built for (a caller bug).
    pub(crate) fn slice(&self, start: usize, offset: u64, len: usize) -> &[u8] {
        assert!(len <= self.max_slice, "slice of {len} > {}", self.max_slice);
        let at = (start + (offset % PERIOD as u64) as usize) & (PERIOD - 1);
        &self.block[at..at + len]
    }

    /// The longest slice this pattern hands out.
    pub(crate) fn max_slice(&self) -> usize {
        self.max_slice
    }

    /// Checks bytes received at `offset` of the stream starting at `start`.
    pub(crate) fn verify(&self, start: usize, offset: u64, got: &[u8]) -> Result<(), Mismatch> {
        let mut checked = 0;
        for piece in got.chunks(self.max_slice) {
            let want = self.slice(start, offset + checked as u64, piece.len());
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
            checked += piece.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_distinct_and_slices_wrap() {
        let p = Pattern::new(64 * 1024);
        assert_ne!(Pattern::start_of(0), Pattern::start_of(1));
        let starts: std::collections::HashSet<usize> = (0..40_000).map(Pattern::start_of).collect();
        assert_eq!(starts.len(), 40_000);
        // A slice across the end of the cycle equals the bytes it wraps onto.
        let s = Pattern::start_of(7);
        let across = p.slice(s, (PERIOD - s - 10) as u64, 20).to_vec();
        assert_eq!(&across[10..], p.slice(s, (PERIOD - s) as u64, 10));
        assert_eq!(across[10..], p.block[..10]);
        assert_ne!(
            p.slice(Pattern::start_of(1), 0, 64),
            p.slice(Pattern::start_of(2), 0, 64)
        );
    }

    #[test]
    fn verify_names_the_first_bad_byte() {
        let p = Pattern::new(1024);
        let s = Pattern::start_of(3);
        let mut data = p.slice(s, 5000, 1000).to_vec();
        assert_eq!(p.verify(s, 5000, &data), Ok(()));
        data[123] ^= 0x40;
        let m = p.verify(s, 5000, &data).expect_err("flipped byte");
        assert_eq!(m.offset, 5123);
        assert_eq!(m.received, m.expected ^ 0x40);
        // Another connection's bytes do not pass.
        assert!(p
            .verify(Pattern::start_of(4), 5000, p.slice(s, 5000, 100))
            .is_err());
    }
}
