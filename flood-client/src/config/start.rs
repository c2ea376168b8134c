//! `--start-at TIME`: the wall-clock instant at which a process opens its gate, so shards on
//! several hosts stream together. TIME is RFC 3339 (`2030-01-02T03:04:05.25Z`, an offset
//! such as `+02:00` instead of `Z`, a space allowed for the `T`) or Unix seconds with up to
//! six decimals (`1893553445.25`). Both are parsed by hand here: a date-to-days formula and a
//! fixed layout are all it takes, where a date crate would bring time zones and formats the
//! flag never needs.
//!
//! Instants are whole microseconds since the Unix epoch, the unit of the report's clocks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, SystemTime};

use hostkit::calendar::days_from_civil;

use crate::engine::intervals::unix_us;

/// Longest sleep while waiting for the start (how soon a Ctrl-C is noticed).
const TICK: Duration = Duration::from_millis(50);
const DAY_S: i64 = 86_400;

/// The wall clock now, µs since the Unix epoch.
pub(crate) fn now_us() -> u64 {
    unix_us(SystemTime::now())
}

/// True once the wall clock has reached `at` (never for a run without a start time).
pub(crate) fn passed(at: Option<u64>) -> bool {
    at.is_some_and(|at| now_us() >= at)
}

/// Blocks until the wall clock reaches `at`; returns at once without one, or when `stop` is
/// set.
pub(crate) fn wait(at: Option<u64>, stop: &AtomicBool) {
    let Some(at) = at else { return };
    loop {
        let now = now_us();
        if now >= at || stop.load(Ordering::Relaxed) {
            return;
        }
        thread::sleep(Duration::from_micros(at - now).min(TICK));
    }
}

/// `--start-at`'s value parser: RFC 3339 or Unix seconds, as µs since the epoch.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    unix_seconds(t).or_else(|| rfc3339(t)).ok_or_else(|| {
        format!(
            "`{text}` is not a start time: want RFC 3339 (2030-01-02T03:04:05Z, or with an \
                 offset like +02:00) or Unix seconds (e.g. $(( $(date +%s) + 10 )))"
        )
    })
}

/// `SECONDS[.FRACTION]`, at most six decimals.
fn unix_seconds(t: &str) -> Option<u64> {
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 6 {
        return None;
    }
    let micros: u64 = format!("{frac:0<6}").parse().ok()?;
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(micros)
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.FRACTION](Z|z|+HH:MM|-HH:MM)`.
fn rfc3339(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = t.get(from..from + len)?;
        all_digits(s).then(|| s.parse().ok())?
    };
    let fixed = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !fixed {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &t[19..];
    let mut micros = 0i64;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.len()
            - after_dot
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        if digits == 0 {
            return None;
        }
        let kept = &after_dot[..digits.min(6)];
        micros = format!("{kept:0<6}").parse().ok()?;
        rest = &after_dot[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = (num(t.len() - 5, 2)?, num(t.len() - 2, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * DAY_S + hour * 3600 + minute * 60 + second - offset_s;
    u64::try_from(secs.checked_mul(1_000_000)? + micros).ok()
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|c| c.is_ascii_digit())
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use hostkit::calendar::rfc3339_ms;

    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds_name_the_same_instants() {
        // `date -u -d 2030-01-02T03:04:05Z +%s` says 1893553445.
        let at = 1_893_553_445_000_000;
        assert_eq!(parse("1893553445"), Ok(at));
        assert_eq!(parse("2030-01-02T03:04:05Z"), Ok(at));
        assert_eq!(parse("2030-01-02 03:04:05z"), Ok(at));
        assert_eq!(parse("2030-01-02T05:04:05+02:00"), Ok(at));
        assert_eq!(parse("2030-01-01T22:34:05-04:30"), Ok(at));
        assert_eq!(parse("2030-01-02T03:04:05.25Z"), Ok(at + 250_000));
        assert_eq!(parse("2030-01-02T03:04:05.123456789Z"), Ok(at + 123_456));
        assert_eq!(parse("1893553445.25"), Ok(at + 250_000));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000_000));
    }

    #[test]
    fn what_is_not_a_time_is_refused_with_both_forms_named() {
        for bad in [
            "",
            "soon",
            "-5",
            "12.1234567",
            "2030-01-02T03:04:05",
            "2030-13-02T03:04:05Z",
            "2023-02-29T00:00:00Z",
            "2030-01-02T24:00:00Z",
            "2030-01-02T03:04:05+2:00",
            "2030-01-02T03:04:05.Z",
            "1969-12-31T23:59:59Z",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.contains("RFC 3339") && err.contains("Unix seconds"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn printed_instants_parse_back_exactly() {
        for us in [
            0,
            1_709_164_800_123_456,
            1_893_553_445_250_000,
            4_102_444_800_000_001,
        ] {
            let ms = us - us % 1000;
            assert_eq!(parse(&rfc3339_ms(us)), Ok(ms), "{}", rfc3339_ms(us));
        }
        assert_eq!(
            rfc3339_ms(1_893_553_445_250_000),
            "2030-01-02T03:04:05.250Z"
        );
    }

    #[test]
    fn waiting_ends_at_the_instant_or_at_a_stop() {
        let stop = AtomicBool::new(false);
        let at = now_us() + 30_000;
        wait(Some(at), &stop);
        assert!(now_us() >= at && passed(Some(at)));
        assert!(!passed(None) && !passed(Some(now_us() + 60_000_000)));
        stop.store(true, Ordering::Relaxed);
        let before = now_us();
        wait(Some(before + 60_000_000), &stop);
        assert!(now_us() - before < 1_000_000);
    }
}
