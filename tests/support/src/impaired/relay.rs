//! The relay between the two TUN devices: every packet read from one is lost, duplicated,
//! rate-limited, delayed or held back behind the next as the [`Impairment`] says, then
//! written to the other. Pure bookkeeping ([`Direction`]) apart from one polling thread
//! ([`run`]), so the impairments are tested without a network.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::{Counts, Impairment};

/// Packets one direction may hold in its delay queue; one more is dropped (`overflowed`).
const MAX_QUEUED: usize = 4096;
/// How long past its own time a held-back packet waits for a next one to overtake it.
const MAX_HOLD: Duration = Duration::from_millis(20);
/// Longest poll: how soon the relay notices it was told to stop.
const POLL_STEP: Duration = Duration::from_millis(20);
/// Largest packet a TUN device hands over (an IP packet's own limit).
const MAX_PACKET: usize = 65_535;

/// A xorshift64* generator: seeded, so a run's decisions repeat for the same packets.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // One splitmix64 step, so neighbouring seeds start far apart; never the all-zero
        // state, xorshift's only dead one.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)).max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform draw from [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// One way of the link: the packets on their way and the state of its shaper.
#[derive(Debug)]
pub(crate) struct Direction {
    imp: Impairment,
    rng: Rng,
    /// Packets and the time each is delivered, in delivery order.
    queue: VecDeque<(Instant, Vec<u8>)>,
    /// A packet held back until the next one has been queued before it.
    held: Option<(Instant, Vec<u8>)>,
    /// The latest delivery time given: later packets are never delivered before it (the
    /// jitter alone does not reorder, as on a real path; reordering is `held`'s job).
    last_due: Option<Instant>,
    /// The token bucket: when the shaper sends its last accepted packet, and the tokens
    /// (bytes) left then.
    free_at: Option<Instant>,
    tokens: f64,
    pub(crate) counts: Counts,
}

impl Direction {
    pub(crate) fn new(imp: Impairment, seed: u64) -> Direction {
        Direction {
            rng: Rng::new(seed),
            tokens: imp.burst as f64,
            imp,
            queue: VecDeque::new(),
            held: None,
            last_due: None,
            free_at: None,
            counts: Counts::default(),
        }
    }

    /// Takes a packet read at `now`: loses, duplicates, shapes, delays or holds it back.
    pub(crate) fn accept(&mut self, packet: Vec<u8>, now: Instant) {
        self.counts.read += 1;
        if self.rng.chance(self.imp.loss) {
            self.counts.lost += 1;
            return;
        }
        if self.rng.chance(self.imp.duplicate) {
            self.counts.duplicated += 1;
            self.enqueue(packet.clone(), now);
        }
        self.enqueue(packet, now);
    }

    fn enqueue(&mut self, packet: Vec<u8>, now: Instant) {
        let room = self.queue.len() < MAX_QUEUED;
        let Some(sent) = room.then(|| self.shape(packet.len(), now)).flatten() else {
            self.counts.overflowed += 1;
            return;
        };
        let jitter = self.imp.jitter.as_secs_f64() * (2.0 * self.rng.unit() - 1.0);
        let delay = (self.imp.delay.as_secs_f64() + jitter).max(0.0);
        let due = (sent + Duration::from_secs_f64(delay)).max(self.last_due.unwrap_or(sent));
        self.last_due = Some(due);
        if self.held.is_none() && self.rng.chance(self.imp.reorder) {
            self.counts.reordered += 1;
            self.held = Some((due, packet));
            return;
        }
        self.queue.push_back((due, packet));
        if let Some((_, held)) = self.held.take() {
            self.queue.push_back((due, held)); // Right behind the one that overtook it.
        }
    }

    /// When the shaper sends a packet of `len` bytes arriving at `now` (`now` itself with no
    /// rate limit), or `None` when its queue is full: the token bucket holds `burst` bytes
    /// and refills at the rate; what waits for tokens is at most `queue` bytes.
    fn shape(&mut self, len: usize, now: Instant) -> Option<Instant> {
        let Some(bits_per_s) = self.imp.rate_bits else {
            return Some(now);
        };
        let bytes_per_s = bits_per_s as f64 / 8.0;
        let free_at = self.free_at.unwrap_or(now);
        let waiting = free_at.saturating_duration_since(now).as_secs_f64() * bytes_per_s;
        if waiting + len as f64 > self.imp.queue as f64 {
            return None;
        }
        let start = free_at.max(now);
        let refill = start.saturating_duration_since(free_at).as_secs_f64() * bytes_per_s;
        let tokens = (self.tokens + refill).min(self.imp.burst as f64);
        let (sent, left) = if tokens >= len as f64 {
            (start, tokens - len as f64)
        } else {
            self.counts.shaped += 1;
            let short = (len as f64 - tokens) / bytes_per_s;
            (start + Duration::from_secs_f64(short), 0.0)
        };
        self.free_at = Some(sent);
        self.tokens = left;
        Some(sent)
    }

    /// The packets due by `now`, in order (a held-back packet no next one came for within
    /// [`MAX_HOLD`] goes too).
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
        if let Some((at, _)) = self.held.as_ref().filter(|(at, _)| now >= *at + MAX_HOLD) {
            let at = *at;
            if let Some((_, packet)) = self.held.take() {
                self.queue.push_back((at.max(now), packet));
            }
        }
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(at, _)| *at <= now) {
            out.extend(self.queue.pop_front().map(|(_, p)| p));
        }
        out
    }

    /// What this way did, counting what is still on its way as `left`.
    fn finish(self) -> Counts {
        let left = self.queue.len() + usize::from(self.held.is_some());
        Counts {
            left: left as u64,
            ..self.counts
        }
    }

    /// When something is next due here, if anything is on its way.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let held = self.held.as_ref().map(|(at, _)| *at + MAX_HOLD);
        let queued = self.queue.front().map(|(at, _)| *at);
        held.into_iter().chain(queued).min()
    }
}

/// Relays between `tuns[0]` and `tuns[1]` (each way impaired by its [`Direction`]) until
/// `stop` is set; returns what happened each way.
pub(crate) fn run(
    mut tuns: [File; 2],
    mut ways: [Direction; 2],
    stop: Arc<AtomicBool>,
) -> io::Result<[Counts; 2]> {
    let mut poll = Poll::new()?;
    for (i, tun) in tuns.iter().enumerate() {
        let fd = tun.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&fd), Token(i), Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(4);
    let mut buf = vec![0u8; MAX_PACKET];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let next = ways.iter().filter_map(Direction::next_due).min();
        let wait = next.map_or(POLL_STEP, |at| {
            POLL_STEP.min(at.saturating_duration_since(now))
        });
        match poll.poll(&mut events, Some(wait)) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
            _ => {}
        }
        // Edge-triggered: each device is read until it is empty, whatever woke the poll.
        for (tun, way) in tuns.iter_mut().zip(ways.iter_mut()) {
            loop {
                match tun.read(&mut buf) {
                    Ok(0) => break, // Not a packet: a TUN device never reads empty.
                    Ok(n) => way.accept(buf[..n].to_vec(), Instant::now()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io::Error::new(e.kind(), format!("read a TUN: {e}"))),
                }
            }
        }
        let now = Instant::now();
        for (from, way) in ways.iter_mut().enumerate() {
            let to = &mut tuns[1 - from];
            for packet in way.due(now) {
                // One write is one packet, whole or not at all; one the kernel refused (a
                // full backlog, say) is lost, as on a real link.
                match to.write(&packet) {
                    Ok(n) if n == packet.len() => way.counts.delivered += 1,
                    _ => way.counts.lost += 1,
                }
            }
        }
    }
    Ok(ways.map(Direction::finish))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean() -> Impairment {
        Impairment {
            delay: Duration::from_millis(20),
            jitter: Duration::ZERO,
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            rate_bits: None,
            burst: 0,
            queue: 0,
            seed: 1,
        }
    }

    /// Feeds `n` numbered packets of `len` bytes, `gap` apart, then collects everything
    /// delivered: (number, delivery offset from the first packet).
    fn feed(imp: Impairment, n: u32, len: usize, gap: Duration) -> (Vec<(u32, Duration)>, Counts) {
        let mut way = Direction::new(imp, 7);
        let t0 = Instant::now();
        let mut out = Vec::new();
        // Delivers what is due by `now`, when it was due.
        let mut deliver = |way: &mut Direction, now: Instant| {
            while let Some(at) = way.next_due().filter(|at| *at <= now) {
                for p in way.due(at) {
                    let number = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                    out.push((number, at - t0));
                }
            }
        };
        for i in 0..n {
            let now = t0 + gap * i;
            deliver(&mut way, now);
            let mut packet = vec![0u8; len.max(4)];
            packet[..4].copy_from_slice(&i.to_be_bytes());
            way.accept(packet, now);
        }
        deliver(&mut way, t0 + gap * n + Duration::from_secs(60));
        (out, way.counts)
    }

    #[test]
    fn a_clean_link_delays_every_packet_in_order() {
        let (out, counts) = feed(clean(), 100, 100, Duration::from_millis(1));
        let numbers: Vec<u32> = out.iter().map(|(i, _)| *i).collect();
        assert_eq!(numbers, (0..100).collect::<Vec<_>>());
        for (i, at) in &out {
            assert_eq!(*at, Duration::from_millis(20 + u64::from(*i)));
        }
        assert_eq!(
            (counts.lost, counts.reordered, counts.duplicated),
            (0, 0, 0)
        );
    }

    #[test]
    fn loss_reorder_and_duplicates_come_at_their_rates_and_jitter_stays_in_bounds() {
        let imp = Impairment::lossy(3);
        let n = 20_000;
        let (out, counts) = feed(imp, n, 100, Duration::from_millis(1));
        let share = |k: u64| k as f64 / f64::from(n);
        assert!((share(counts.lost) - 0.03).abs() < 0.006, "{counts:?}");
        assert!(
            (share(counts.duplicated) - 0.01).abs() < 0.003,
            "{counts:?}"
        );
        assert!((share(counts.reordered) - 0.05).abs() < 0.008, "{counts:?}");
        // Every packet not lost arrives, duplicates twice.
        assert_eq!(
            out.len() as u64,
            u64::from(n) - counts.lost + counts.duplicated
        );
        // Out of order only where a packet was held back.
        let late = out.windows(2).filter(|w| w[1].0 < w[0].0).count() as u64;
        assert!(late > 0 && late <= counts.reordered, "{late} {counts:?}");
        // Delays: 20 ms ± 10, a held-back packet at most MAX_HOLD later.
        for (i, at) in &out {
            let delay = *at - Duration::from_millis(u64::from(*i));
            let bounds = Duration::from_millis(10)..=Duration::from_millis(30) + MAX_HOLD;
            assert!(bounds.contains(&delay), "{i}: {delay:?}");
        }
        // Seeded: the same packets get the same fate.
        let again = feed(imp, n, 100, Duration::from_millis(1));
        assert_eq!(again.0, out);
    }

    #[test]
    fn the_rate_limit_paces_and_drops_what_overflows_its_queue() {
        let imp = Impairment {
            delay: Duration::ZERO,
            rate_bits: Some(10_000_000),
            burst: 1500,
            queue: 15_000,
            ..clean()
        };
        // 100 packets of 1,250 bytes (1 ms each at 10 Mbit/s) offered at once: the burst
        // sends the first at once, and each later one waits for its whole millisecond.
        let (out, counts) = feed(imp, 100, 1250, Duration::ZERO);
        assert!(counts.overflowed >= 80, "a 15 kB queue: {counts:?}");
        assert_eq!(out.len() as u64, 100 - counts.overflowed);
        for w in out.windows(2).skip(1) {
            let gap = w[1].1 - w[0].1;
            assert!(gap >= Duration::from_micros(999), "{gap:?}");
        }
        // Offered at the rate, nothing is dropped and nothing waits beyond a packet's time.
        let (out, counts) = feed(imp, 100, 1250, Duration::from_millis(1));
        assert_eq!((out.len(), counts.overflowed), (100, 0));
    }
}
