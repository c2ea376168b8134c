//! The open model (`--rate`) and churn (`--churn`): load that follows a schedule instead of
//! answering the server's pace, so a slow server cannot slow the load down and hide itself.
//!
//! A closed loop sends the next chunk when the last came back; when the server stalls, the
//! client stalls with it and times only what it got round to sending (coordinated
//! omission). Here every message (or churn connection) has a scheduled time, and its
//! latency counts from that time to its last verified byte, so a message that could not even
//! be sent on time counts its wait. The uncorrected latency (from the actual send or
//! connect) is kept beside it.
//!
//! Both are phases of the loop's [`Scheduler`]: [`Scheduler::paced_phase`] replaces the
//! closed-loop stream phase after the gate; [`Scheduler::churn_phase`] replaces connect and
//! stream phases. They reuse its connect, drive, timeout and failure bookkeeping.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use mio::{Events, Token};

use super::{unix_us, Scheduler, TICK};
use crate::engine::connection::State;
use crate::report::histogram::Latency;
use crate::report::{ErrorKind, Failure, Pacing};

/// The least time between two rings of a loop's alarm: scheduled times closer together
/// share a wake (at 40,000 messages a second, eight), so a dense schedule costs at most 5,000
/// timer wake-ups a second. Events still wake the loop at once, and a due send or arrival
/// leaves at the first wake after its time, whatever woke the loop; past this it counts as
/// late, as every delay from its scheduled time does.
pub(super) const ALARM_GAP: Duration = Duration::from_micros(200);

/// Seconds beyond any run: a scheduled time this far out (a rate of almost nothing) is
/// never due, and converting it cannot overflow.
const FAR: f64 = 1e9;

/// How scheduled times are spread (`--arrivals`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Arrivals {
    /// Evenly: the rate spread evenly over the connections, each at a fixed interval.
    Even,
    /// A Poisson process: exponential gaps of the same mean, from a seeded generator.
    Poisson,
}

/// The scheduled load of one loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OpenLoad {
    /// Messages (or, for churn, new connections) per second for this loop.
    pub(crate) per_s: f64,
    /// How their times are spread.
    pub(crate) arrivals: Arrivals,
    /// Fresh connections that live once, instead of messages over open ones.
    pub(crate) churn: bool,
}

/// One stream of scheduled times. Even: the k-th is `start + (k + phase) · interval`,
/// computed afresh each time so no rounding accumulates. Poisson: gaps are exponential
/// with mean `interval`, drawn from a generator seeded per stream, so two cursors with the
/// same seed walk the same times (one for sending, one for timing completions).
#[derive(Debug, Clone)]
struct Cursor {
    start: Instant,
    interval_s: f64,
    phase: f64,
    arrivals: Arrivals,
    k: u64,
    at_s: f64,
    rng: u64,
}

impl Cursor {
    fn new(start: Instant, interval_s: f64, phase: f64, arrivals: Arrivals, seed: u64) -> Cursor {
        let mut c = Cursor {
            start,
            interval_s,
            phase,
            arrivals,
            k: 0,
            at_s: 0.0,
            rng: seed ^ 0x9E37_79B9_7F4A_7C15,
        };
        c.at_s = match arrivals {
            Arrivals::Even => phase * interval_s,
            Arrivals::Poisson => c.gap(),
        };
        c
    }

    /// The current scheduled time (a time past [`FAR`] counts as `FAR`: after any run).
    fn at(&self) -> Instant {
        self.start + Duration::from_secs_f64(self.at_s.min(FAR))
    }

    /// Moves to the next scheduled time.
    fn advance(&mut self) {
        self.k += 1;
        self.at_s = match self.arrivals {
            Arrivals::Even => (self.k as f64 + self.phase) * self.interval_s,
            Arrivals::Poisson => self.at_s + self.gap(),
        };
    }

    /// An exponential gap of mean `interval_s` (inverse transform of a splitmix64 draw).
    fn gap(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        -(1.0 - u).ln() * self.interval_s
    }
}

/// One connection's place in its schedule: `next` walks the times messages are released
/// to be sent, `done` the times of the messages still to be verified.
#[derive(Debug, Clone)]
struct Books {
    next: Cursor,
    done: Cursor,
    released: u64,
    completed: u64,
}

/// A churn slot's current connection: its slab key, when it was due and when it started.
#[derive(Debug, Clone, Copy)]
struct Holder {
    key: usize,
    due: Instant,
    started: Instant,
}

/// The corrected and uncorrected latencies a scheduled phase records.
#[derive(Debug, Default)]
struct Latencies {
    corrected: Latency,
    uncorrected: Latency,
    /// When each send or connect left against when it was due: the loop's own delay.
    late: Latency,
}

impl Scheduler {
    /// The open model after the gate: every connection sends one chunk-sized message at each
    /// of its scheduled times (the loop's rate spread over its connections) until
    /// `--duration` ends the schedule; then the backlog is worked off (for at most as long
    /// again) so every message released is verified, and its latency recorded. A connection
    /// still behind then fails as a timeout; the others did all they were given and pass.
    pub(super) fn paced_phase(&mut self, load: OpenLoad, events: &mut Events) -> io::Result<()> {
        let start = Instant::now();
        let length = self.plan.duration.unwrap_or_default();
        let (end, give_up) = (start + length, start + 2 * length.max(TICK));
        let chunk = self.plan.work.chunk;
        self.report.go_unix_us = unix_us(SystemTime::now());
        self.report.pacing = Pacing::Messages;
        self.report.peak_streaming = self.open; // Any of them may be sending.
        self.report.scheduled_us = length.as_micros() as u64;
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        let n = keys.len() as f64;
        let interval_s = n / load.per_s;
        let mut books: Vec<Option<Books>> = vec![None; keys.last().map_or(0, |k| k + 1)];
        let mut due = BinaryHeap::new();
        for (j, &key) in keys.iter().enumerate() {
            let conn = &mut self.conns[key];
            conn.go(start);
            conn.allowed = 0;
            let phase = j as f64 / n;
            let cursor = Cursor::new(start, interval_s, phase, load.arrivals, conn.index);
            if cursor.at() < end {
                due.push(Reverse((cursor.at(), key)));
            }
            books[key] = Some(Books {
                next: cursor.clone(),
                done: cursor,
                released: 0,
                completed: 0,
            });
        }
        let mut lat = Latencies::default();
        loop {
            if self.interrupted_now() {
                break;
            }
            let now = Instant::now();
            while let Some(&Reverse((at, key))) = due.peek() {
                if at > now {
                    break;
                }
                due.pop();
                let (Some(b), Some(conn)) = (books[key].as_mut(), self.conns.get_mut(key)) else {
                    continue;
                };
                if conn.verified() == b.released * chunk {
                    conn.last_progress = now; // It was idle by schedule, not stuck.
                }
                b.released += 1;
                lat.late.record(now.saturating_duration_since(at));
                conn.allowed = b.released * chunk;
                self.report.due += 1;
                b.next.advance();
                if b.next.at() < end {
                    due.push(Reverse((b.next.at(), key)));
                }
                self.paced_drive(key, &mut books, &mut lat);
            }
            let outstanding = |s: &Scheduler| {
                s.conns.iter().any(|(k, c)| {
                    books[k]
                        .as_ref()
                        .is_some_and(|b| c.verified() < b.released * chunk)
                })
            };
            if due.is_empty() && !outstanding(self) {
                break;
            }
            if now >= give_up {
                // Only a connection with messages still unverified failed; one that verified
                // every message it was given passes below with the rest.
                let behind: Vec<(usize, u64)> = (self.conns.iter())
                    .filter_map(|(k, c)| {
                        let released = books[k].as_ref()?.released;
                        let left = released - c.verified() / chunk;
                        (c.verified() < released * chunk).then_some((k, left))
                    })
                    .collect();
                for (key, left) in behind {
                    let detail =
                        format!("{left} messages not verified within {length:?} after the run");
                    self.abandon(key, ErrorKind::Timeout, detail);
                }
                break;
            }
            let next = due
                .peek()
                .map_or(give_up, |Reverse((at, _))| (*at).min(give_up));
            let next = self.intervals.due().map_or(next, |at| at.min(next));
            self.poll_until(events, now, next)?;
            for event in events.iter() {
                self.note_event(event);
                self.paced_drive(event.token().0, &mut books, &mut lat);
            }
            self.tick(Instant::now());
        }
        if !self.report.interrupted {
            self.stop_at_deadline(); // The rest streamed all they were given: they pass.
        }
        self.report.corrected_histogram = lat.corrected;
        self.report.lateness_histogram = lat.late;
        // The uncorrected figures are the round trips from the actual send: the loop's `rtt`,
        // complete only once `finish` has folded the last interval into it.
        Ok(())
    }

    /// Polls for events until `next` (at most a [`TICK`]), waking at once for an event and
    /// on time to well under a millisecond for the schedule: the loop's
    /// [`hostkit::waiting::Alarm`] rings at `next`, or [`ALARM_GAP`] after its last ring
    /// when `next` comes sooner (epoll's own timeout counts whole milliseconds).
    fn poll_until(&mut self, events: &mut Events, now: Instant, next: Instant) -> io::Result<()> {
        if next >= now + TICK {
            return self.poll_once(events, TICK);
        }
        let at = if next > now {
            self.alarm.ring_at(next)?
        } else {
            next
        };
        self.poll_once(events, at.saturating_duration_since(now))
    }

    /// Drives a paced connection and times every message it completed from its schedule.
    fn paced_drive(&mut self, key: usize, books: &mut [Option<Books>], lat: &mut Latencies) {
        self.drive(key);
        let (Some(b), Some(conn)) = (
            books.get_mut(key).and_then(Option::as_mut),
            self.conns.get(key),
        ) else {
            return;
        };
        let done = conn.verified() / self.plan.work.chunk;
        if done > b.completed {
            let now = Instant::now();
            while b.completed < done {
                lat.corrected
                    .record(now.saturating_duration_since(b.done.at()));
                b.done.advance();
                b.completed += 1;
            }
        }
    }

    /// Churn: fresh connections arrive on schedule for `--duration`; each connects, sends
    /// its bytes, verifies the echo and the server's EOF, and closes. The loop's connection
    /// indices are slots: at most that many are open at once, an arrival with no free slot
    /// waits (its wait counts), and open connections never share a pattern. A refused
    /// connect is not retried: refusing is the accept path failing.
    pub(super) fn churn_phase(&mut self, load: OpenLoad, events: &mut Events) -> io::Result<()> {
        let slots = self.plan.indices.clone();
        self.next_index = slots.end; // No connect phase: nothing is left "never started".
        self.plan.retries = 0;
        self.shared.gate.arrive_and_wait();
        let start = Instant::now();
        let length = self.plan.duration.unwrap_or_default();
        let (end, give_up) = (start + length, start + 2 * length.max(TICK));
        self.report.go_unix_us = unix_us(SystemTime::now());
        self.report.pacing = Pacing::Connections;
        self.report.scheduled_us = length.as_micros() as u64;
        let mut arrivals = Cursor::new(start, 1.0 / load.per_s, 0.0, load.arrivals, slots.start);
        // Free slots, each with when it became free: an arrival that waited for one was
        // held by the connections still open (the server's pace), not by this loop.
        let mut free: Vec<(u64, Instant)> = slots.clone().rev().map(|s| (s, start)).collect();
        let mut holders: Vec<Option<Holder>> = vec![None; free.len()];
        let mut lat = Latencies::default();
        let mut next_sweep = start + TICK;
        loop {
            if self.interrupted_now() {
                break;
            }
            let now = Instant::now();
            while arrivals.at() <= now && arrivals.at() < end {
                let Some((slot, freed)) = free.pop() else {
                    break; // Every slot busy: this arrival waits, and its wait counts.
                };
                let due = arrivals.at();
                lat.late
                    .record(now.saturating_duration_since(due.max(freed)));
                arrivals.advance();
                self.report.due += 1;
                let key = self.conns.vacant_key();
                self.start_connect(slot, 0, now, now);
                if self.conns.get(key).is_some_and(|c| c.index == slot) {
                    let started = now;
                    holders[(slot - slots.start) as usize] = Some(Holder { key, due, started });
                } else {
                    free.push((slot, now)); // Failed at once, and counted.
                }
            }
            if arrivals.at() >= end && holders.iter().all(Option::is_none) {
                break;
            }
            if now >= give_up {
                // Arrivals still waiting for a slot, as long again after the schedule, never
                // start: each fails (the open connections held every slot that long).
                let slot = free.last().map_or(slots.start, |&(slot, _)| slot);
                while arrivals.at() < end {
                    arrivals.advance();
                    self.report.due += 1;
                    self.fail(Failure {
                        connection: slot,
                        kind: ErrorKind::Timeout,
                        verified: 0,
                        mismatch: None,
                        detail: format!("found no free slot within {length:?} after the run"),
                    });
                }
                if holders.iter().all(Option::is_none) {
                    break;
                }
            }
            let next = if free.is_empty() || arrivals.at() >= end {
                now + TICK
            } else {
                arrivals.at()
            };
            self.poll_until(events, now, next)?;
            for event in events.iter() {
                self.note_event(event);
                let key = event.token().0;
                let Some(slot) = self.conns.get(key).map(|c| c.index) else {
                    continue;
                };
                let ok_before = self.report.connections_ok;
                if self.conns[key].state == State::Connecting {
                    self.on_connect_event(Token(key));
                    if let Some(conn) = self.conns.get_mut(key) {
                        if conn.state == State::Ready {
                            conn.go(Instant::now());
                        }
                    }
                }
                self.drive(key);
                self.report.peak_concurrent = self.report.peak_concurrent.max(self.open);
                self.report.peak_streaming = self.report.peak_concurrent;
                if self.conns.get(key).is_none_or(|c| c.index != slot) {
                    let ok = self.report.connections_ok > ok_before;
                    let i = (slot - slots.start) as usize;
                    if let Some(h) = holders[i].take() {
                        let now = Instant::now();
                        free.push((slot, now));
                        if ok {
                            lat.corrected.record(now.saturating_duration_since(h.due));
                            lat.uncorrected
                                .record(now.saturating_duration_since(h.started));
                        }
                    }
                }
            }
            let now = Instant::now();
            self.tick(now);
            if now >= next_sweep {
                // Connections that failed outside a drive (timeouts) free their slots here.
                next_sweep = now + TICK;
                for (i, holder) in holders.iter_mut().enumerate() {
                    let slot = slots.start + i as u64;
                    if let Some(h) = holder {
                        if self.conns.get(h.key).is_none_or(|c| c.index != slot) {
                            *holder = None;
                            free.push((slot, now));
                        }
                    }
                }
            }
        }
        self.report.connections_requested = self.report.due;
        self.report.corrected_histogram = lat.corrected;
        self.report.uncorrected_histogram = lat.uncorrected;
        self.report.lateness_histogram = lat.late;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_times_are_exact_and_poisson_times_have_the_mean() {
        let t0 = Instant::now();
        let mut even = Cursor::new(t0, 0.001, 0.5, Arrivals::Even, 1);
        for _ in 0..1_000_000 {
            even.advance();
        }
        // No drift after a million steps: exactly (k + phase) · interval.
        assert_eq!(even.at() - t0, Duration::from_secs_f64(1_000_000.5 * 0.001));
        let mut poisson = Cursor::new(t0, 0.001, 0.0, Arrivals::Poisson, 7);
        let twin = poisson.clone();
        let mut gaps = Vec::new();
        let mut last = 0.0;
        for _ in 0..100_000 {
            poisson.advance();
            gaps.push(poisson.at_s - last);
            last = poisson.at_s;
        }
        let mean = last / 100_000.0;
        assert!((mean - 0.001).abs() < 0.00002, "mean gap {mean}");
        // Exponential: about 1/e of the gaps exceed the mean.
        let long = gaps.iter().filter(|g| **g > 0.001).count() as f64 / 1e5;
        assert!((long - (-1f64).exp()).abs() < 0.01, "{long}");
        // The same seed walks the same times.
        let mut again = twin;
        again.advance();
        let mut first = Cursor::new(t0, 0.001, 0.0, Arrivals::Poisson, 7);
        first.advance();
        assert_eq!(again.at_s, first.at_s);
    }
}
