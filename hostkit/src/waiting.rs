//! An event loop's alarm: its poll wakes at a scheduled time to well under a millisecond,
//! or at its first event, whichever comes first.
//!
//! epoll counts its timeout in whole milliseconds (mio rounds a shorter one up), too coarse
//! for a loop that keeps a finer schedule (paced sends, churn arrivals). Sleeping through the
//! rest instead would not watch the sockets, and that is not harmless in a load generator:
//! the replies that come in meanwhile are handled in a batch at the wake, which adds the
//! sleep to their latencies and hands the server its next packets in bursts, so it serves
//! several connections per wake-up and looks cheaper per connection than it is under
//! clients that answer at once (measured: 29 against 47 µs of server CPU per churn
//! connection, docs/PERFORMANCE.md).
//!
//! On Linux an [`Alarm`] is a timer descriptor registered in the loop's own poll, so its
//! expiry is one more event: the loop sleeps in one wait, on its sockets and its schedule at
//! once, and arms the timer once per scheduled time, not once per wait. The poll's own
//! timeout, rounded up, then never comes first. Elsewhere (kqueue) that timeout is already
//! exact, and an alarm is nothing.

use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

#[cfg(target_os = "linux")]
use crate::sys;

/// A one-shot timer in a poll (see the module documentation).
#[derive(Debug)]
pub struct Alarm {
    #[cfg(target_os = "linux")]
    timer: std::os::fd::OwnedFd,
    /// When it is set to ring (it is armed again only for another time).
    set_for: Option<Instant>,
    /// The least time between two rings.
    min_gap: Duration,
    /// Whether the pending ring was put off to keep `min_gap`.
    put_off: bool,
}

impl Alarm {
    /// A disarmed alarm whose ringing is an event of `token` (readable) in `registry`'s poll,
    /// ringing at most once per `min_gap`.
    pub fn new(registry: &Registry, token: Token, min_gap: Duration) -> io::Result<Alarm> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let timer = sys::timerfd()?;
            registry.register(
                &mut mio::unix::SourceFd(&timer.as_raw_fd()),
                token,
                Interest::READABLE,
            )?;
            Ok(Alarm {
                timer,
                set_for: None,
                min_gap,
                put_off: false,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (registry, token, Interest::READABLE);
            Ok(Alarm {
                set_for: None,
                min_gap,
                put_off: false,
            })
        }
    }

    /// Has the alarm ring at `at` (at once if that has passed), and returns when it will
    /// ring. Rings stay `min_gap` apart: after a ring, a time sooner than that is put off to
    /// it, and while a ring that was put off is pending, a time before it waits for it too.
    /// A pending ring at or before `at` is kept (the loop wakes then and asks again). Its
    /// event is edge-triggered and needs no reading: each ring is a new event.
    pub fn ring_at(&mut self, at: Instant) -> io::Result<Instant> {
        let now = Instant::now();
        let at = match self.set_for {
            Some(pending) if pending > now && (pending <= at || self.put_off) => {
                return Ok(pending)
            }
            Some(rang) if rang <= now => at.max(rang + self.min_gap),
            _ => at,
        };
        self.put_off = self.set_for.is_some_and(|rang| rang + self.min_gap == at) && at > now;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            sys::timerfd_arm(self.timer.as_raw_fd(), at.saturating_duration_since(now))?;
        }
        self.set_for = Some(at);
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use mio::net::UnixStream;
    use mio::{Events, Interest, Poll, Token};

    use super::Alarm;

    const ALARM: Token = Token(1);
    const PEER: Token = Token(2);
    const GAP: Duration = Duration::from_micros(200);

    /// Polls until an event of `token` or `deadline`; the tokens seen, in order.
    fn poll_for(poll: &mut Poll, token: Token, deadline: Instant) -> Vec<Token> {
        let mut events = Events::with_capacity(8);
        let mut seen = Vec::new();
        while !seen.contains(&token) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no event of {token:?} by the deadline: {seen:?}"
            );
            poll.poll(&mut events, Some(left)).expect("poll");
            seen.extend(events.iter().map(|e| e.token()));
        }
        seen
    }

    #[test]
    fn an_alarm_rings_as_an_event_of_its_own_token() {
        let mut poll = Poll::new().expect("poll");
        let mut alarm = Alarm::new(poll.registry(), ALARM, GAP).expect("alarm");
        let at = Instant::now() + Duration::from_micros(300);
        assert_eq!(alarm.ring_at(at).expect("arm"), at);
        let seen = poll_for(&mut poll, ALARM, Instant::now() + Duration::from_secs(10));
        assert_eq!(seen, [ALARM]);
        assert!(Instant::now() >= at, "rang before its time");
    }

    #[test]
    fn a_socket_event_wakes_the_poll_before_a_later_alarm() {
        let mut poll = Poll::new().expect("poll");
        let mut alarm = Alarm::new(poll.registry(), ALARM, GAP).expect("alarm");
        let (mut a, mut b) = UnixStream::pair().expect("pair");
        poll.registry()
            .register(&mut b, PEER, Interest::READABLE)
            .expect("register");
        let far = Instant::now() + Duration::from_secs(30);
        alarm.ring_at(far).expect("arm");
        a.write_all(b"x").expect("write");
        let seen = poll_for(&mut poll, PEER, far);
        assert_eq!(seen, [PEER], "the alarm rang first");
    }

    #[test]
    fn rings_keep_the_gap_and_a_pending_ring_is_kept() {
        let mut poll = Poll::new().expect("poll");
        let gap = Duration::from_millis(500);
        let mut alarm = Alarm::new(poll.registry(), ALARM, gap).expect("alarm");
        let first = Instant::now() + Duration::from_micros(100);
        assert_eq!(alarm.ring_at(first).expect("arm"), first);
        poll_for(&mut poll, ALARM, Instant::now() + Duration::from_secs(10));
        // Sooner than the gap after the last ring: put off to the gap.
        let soon = Instant::now() + Duration::from_micros(100);
        assert_eq!(alarm.ring_at(soon).expect("arm"), first + gap);
        // While that put-off ring is pending, an earlier time waits for it too.
        assert_eq!(alarm.ring_at(soon).expect("arm"), first + gap);
        // And a later one keeps it as well: the loop wakes then and asks again.
        let later = first + 2 * gap;
        assert_eq!(alarm.ring_at(later).expect("arm"), first + gap);
        poll_for(&mut poll, ALARM, Instant::now() + Duration::from_secs(10));
        assert!(Instant::now() >= first + gap, "rang inside the gap");
    }
}
