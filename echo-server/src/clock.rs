//! The time stamp of the stats lines: RFC 3339 in UTC with milliseconds
//! (`2025-01-31T12:00:00.123Z`), which sorts as text, reads at a glance and parses anywhere,
//! written by hand (`hostkit::calendar`, shared with flood-client) because it is the only
//! date the server ever prints.

use std::time::{SystemTime, UNIX_EPOCH};

/// `at` as RFC 3339 UTC with milliseconds (a clock before 1970 reads as 1970).
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    hostkit::calendar::rfc3339_ms(since.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, millis: u64) -> String {
        rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    /// Checked against `date -u -d @SECS`.
    #[test]
    fn known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(951_868_799, 999), "2000-02-29T23:59:59.999Z");
        assert_eq!(at(1_709_251_199, 0), "2024-02-29T23:59:59.000Z");
        assert_eq!(at(1_735_689_600, 500), "2025-01-01T00:00:00.500Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }
}
