//! Dates of the proleptic Gregorian calendar as day counts since 1970-01-01 and back (Howard
//! Hinnant's `days_from_civil` / `civil_from_days`): all the calendar both binaries need to
//! stamp their lines, caption a chart and read a start time, without a date crate.

/// Days since 1970-01-01 of the date `year`-`month`-`day` (month 1–12; negative before 1970).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // year of the 400-year era
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // day of the 400-year era
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The instant `unix_us` (µs since the Unix epoch) in RFC 3339, UTC, to the millisecond
/// (`2025-01-31T12:00:00.123Z`): sorts as text, reads at a glance and parses anywhere. The
/// one date format both binaries print.
pub fn rfc3339_ms(unix_us: u64) -> String {
    let secs = unix_us / 1_000_000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        unix_us % 1_000_000 / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against `date -u -d @SECS`.
    #[test]
    fn known_dates_both_ways_and_every_day_round_trips() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (11_016, (2000, 2, 29)),
            (19_782, (2024, 2, 29)),
            (20_089, (2025, 1, 1)),
            (47_541, (2100, 3, 1)),
            (-1, (1969, 12, 31)),
        ] {
            assert_eq!(civil_from_days(days), date, "{days}");
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
        }
        for days in -800_000..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
