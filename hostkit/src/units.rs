//! Human-friendly sizes (`64KiB`, `32k`, `1M`), durations (`500ms`, `30s`, `2m`) and
//! addresses (`127.0.0.1:12345`, `localhost:7`).
//!
//! Binary prefixes are the default because socket buffers and the original benchmark's
//! "32k" chunks are powers of two: `k`, `K`, `KiB` mean 1024. The explicit SI spellings
//! `KB`, `MB`, `GB` mean powers of 1000.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Parses a byte count such as `512`, `32k`, `64KiB`, `1MiB` or `10MB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (try 512, 32k, 64KiB or 1MiB)"))?;
    let multiplier: u64 = match suffix.trim() {
        "" | "b" | "B" => 1,
        "k" | "K" | "KiB" | "kib" | "Ki" => 1 << 10,
        "m" | "M" | "MiB" | "mib" | "Mi" => 1 << 20,
        "g" | "G" | "GiB" | "gib" | "Gi" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
            "unknown size unit `{other}` in `{text}` (use k, KiB, M, MiB, G, GiB, KB, MB or GB)"
        ))
        }
    };
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// Parses a duration such as `250ms`, `30s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 500ms, 30s or 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use us, ms, s, m or h)"
            ))
        }
    };
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(format!("duration `{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a size that must also fit in memory as a `usize` (0 allowed).
pub fn parse_usize_size(text: &str) -> Result<usize, String> {
    let n = parse_size(text)?;
    usize::try_from(n).map_err(|_| format!("size `{text}` is too large"))
}

/// Parses a size that must also fit in memory as a `usize` and be at least one byte.
pub fn parse_nonzero_size(text: &str) -> Result<usize, String> {
    match parse_usize_size(text)? {
        0 => Err(format!("`{text}`: must be at least one byte")),
        n => Ok(n),
    }
}

/// Parses `IP:PORT` or `host:port` (resolved, first address wins).
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .map_err(|e| {
            format!("`{text}` is not an address (want IP:PORT, e.g. 127.0.0.1:12345): {e}")
        })?
        .next()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

/// Formats a byte count with a binary unit (`512.0 KiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("32k"), Ok(32 * 1024));
        assert_eq!(parse_size("64KiB"), Ok(64 * 1024));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1_000"), Ok(1000));
        assert!(parse_size("12x").is_err());
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert!(parse_nonzero_size("0").is_err());
        assert_eq!(parse_usize_size("0"), Ok(0));
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(256 * 1024), "256.0 KiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
