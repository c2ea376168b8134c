//! Human-friendly sizes (`64KiB`, `1.5MiB`, `2T`), counts (`32k`, `2.5k`, `32Ki`), rates
//! (`10k`), durations (`250ms`, `1m30s`, `2h15m`) and addresses (`127.0.0.1:12345`,
//! `localhost:7`), parsed the same way by every flag of both binaries.
//!
//! **Sizes are binary**: `k`, `K`, `KiB` mean 1024 (and `M`/`MiB`, `G`/`GiB`, `T`/`TiB` the
//! powers after it), because socket buffers, pages and the original benchmark's "32k"
//! chunks are powers of two. The explicit SI spellings `KB`, `MB`, `GB`, `TB` mean powers
//! of 1000. A fraction is fine as long as it comes to whole bytes (`1.5MiB`, `0.5k`);
//! `0.1k` (102.4 bytes) is an error.
//!
//! **Counts and rates are decimal**: `k` = 1000, `M` = 10^6, `G` = 10^9, as in wrk
//! ("numeric arguments may include a SI unit") and tcpkali, whose users write `-c 10k` for
//! ten thousand connections and `-r 10k` for ten thousand a second; a count is not a size
//! in memory, and a user reading `-c 32k` back in a report expects 32,000. The charts' and
//! the original study's "32k connections" is 32,768, a power of two: write it `32768` or
//! with the binary suffix `32Ki` (`Mi`, `Gi` likewise).
//!
//! Every error names the value and the forms that are accepted; none panics.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The units one kind of quantity accepts, and how its errors name it.
struct Units {
    /// What the quantity is called in errors ("size", "count").
    what: &'static str,
    /// Example values, shown in every error.
    examples: &'static str,
    /// The unit spellings, shown when a unit is not known.
    accepted: &'static str,
    /// What a value that does not come out whole is told.
    not_whole: &'static str,
    /// Every spelling and its multiplier (the empty unit included).
    table: &'static [(&'static str, u64)],
}

const KI: u64 = 1 << 10;
const MI: u64 = 1 << 20;
const GI: u64 = 1 << 30;
const TI: u64 = 1 << 40;

const SIZES: Units = Units {
    what: "size",
    examples: "512, 32k, 64KiB, 1.5MiB or 10MB",
    accepted:
        "none (bytes), k/KiB, M/MiB, G/GiB, T/TiB (powers of 1024) or KB, MB, GB, TB (of 1000)",
    not_whole: "comes to a fraction of a byte",
    table: &[
        ("", 1),
        ("b", 1),
        ("B", 1),
        ("k", KI),
        ("K", KI),
        ("Ki", KI),
        ("KiB", KI),
        ("kib", KI),
        ("m", MI),
        ("M", MI),
        ("Mi", MI),
        ("MiB", MI),
        ("mib", MI),
        ("g", GI),
        ("G", GI),
        ("Gi", GI),
        ("GiB", GI),
        ("gib", GI),
        ("t", TI),
        ("T", TI),
        ("Ti", TI),
        ("TiB", TI),
        ("tib", TI),
        ("KB", 1_000),
        ("kB", 1_000),
        ("MB", 1_000_000),
        ("GB", 1_000_000_000),
        ("TB", 1_000_000_000_000),
    ],
};

const COUNTS: Units = Units {
    what: "count",
    examples: "1000, 32k (= 32,000), 2.5k, 32Ki (= 32,768) or 1M",
    accepted: "none, k, M, G (powers of 1000) or Ki, Mi, Gi (powers of 1024)",
    not_whole: "is not a whole count",
    table: &[
        ("", 1),
        ("k", 1_000),
        ("K", 1_000),
        ("m", 1_000_000),
        ("M", 1_000_000),
        ("g", 1_000_000_000),
        ("G", 1_000_000_000),
        ("Ki", KI),
        ("Mi", MI),
        ("Gi", GI),
    ],
};

/// Splits `text` at the end of its leading number (digits, `_` separators, `.`).
fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit() && c != '_' && c != '.')
        .unwrap_or(text.len());
    text.split_at(end)
}

/// What multiplying a decimal number by a unit came to.
enum Scaled {
    Whole(u64),
    NotANumber,
    Fraction,
    TooLarge,
}

/// `number` (digits, `_` separators, at most one `.`) times `multiplier`, exactly.
fn scale(number: &str, multiplier: u64) -> Scaled {
    let digits: String = number.chars().filter(|c| *c != '_').collect();
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let frac = frac.trim_end_matches('0');
    let is_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !is_digits(int) || !is_digits(frac) {
        return Scaled::NotANumber;
    }
    // 20 decimals times a multiplier below 2^41 stays within u128.
    if frac.len() > 20 {
        return Scaled::Fraction;
    }
    let whole: u128 = match int {
        "" => 0,
        int => match int.parse() {
            Ok(n) => n,
            Err(_) => return Scaled::TooLarge,
        },
    };
    let (numerator, denominator) = match frac {
        "" => (0, 1),
        frac => match frac.parse::<u128>() {
            Ok(n) => (n * u128::from(multiplier), 10u128.pow(frac.len() as u32)),
            Err(_) => return Scaled::NotANumber,
        },
    };
    if numerator % denominator != 0 {
        return Scaled::Fraction;
    }
    whole
        .checked_mul(u128::from(multiplier))
        .and_then(|n| n.checked_add(numerator / denominator))
        .and_then(|n| u64::try_from(n).ok())
        .map_or(Scaled::TooLarge, Scaled::Whole)
}

/// Parses a number with one of `units`' suffixes into a whole value.
fn parse_scaled(text: &str, units: &Units) -> Result<u64, String> {
    let text = text.trim();
    let Units {
        what,
        examples,
        accepted,
        not_whole,
        table,
    } = units;
    if text.starts_with('-') {
        return Err(format!(
            "`{text}`: a {what} cannot be negative (try {examples})"
        ));
    }
    let (number, unit) = split_number(text);
    if number.is_empty() {
        return Err(format!("`{text}` is not a {what} (try {examples})"));
    }
    let Some(&(_, multiplier)) = table.iter().find(|(name, _)| *name == unit.trim()) else {
        return Err(format!(
            "unknown {what} unit `{}` in `{text}` (units: {accepted}; e.g. {examples})",
            unit.trim()
        ));
    };
    match scale(number, multiplier) {
        Scaled::Whole(n) => Ok(n),
        Scaled::NotANumber => Err(format!("`{text}` is not a {what} (try {examples})")),
        Scaled::Fraction => Err(format!("`{text}` {not_whole} (try {examples})")),
        Scaled::TooLarge => Err(format!("{what} `{text}` is too large")),
    }
}

/// Parses a byte count such as `512`, `32k`, `64KiB`, `1.5MiB`, `2TiB` or `10MB`: binary
/// unless spelled the SI way (`KB`, `MB`, `GB`, `TB`); a fraction must come to whole bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    parse_scaled(text, &SIZES)
}

/// Parses a count such as `1000`, `32k` (32,000), `2.5k` (2,500), `1M` or `32Ki` (32,768):
/// decimal suffixes unless spelled the binary way (`Ki`, `Mi`, `Gi`).
pub fn parse_count(text: &str) -> Result<u64, String> {
    parse_scaled(text, &COUNTS)
}

/// Parses a count of at least one, the error naming the `noun` counted ("at least 1
/// connection").
pub fn parse_positive_count(text: &str, noun: &str) -> Result<u64, String> {
    match parse_count(text)? {
        0 => Err(format!("`{text}`: want at least 1 {noun}")),
        n => Ok(n),
    }
}

/// Parses a rate per second such as `500`, `0.5`, `2.5k` or `10k` (decimal suffixes, as for
/// counts): positive and finite.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let forms = "per second, e.g. 500, 0.5, 2.5k or 10k";
    let (number, unit) = split_number(text);
    let multiplier = match unit.trim() {
        "" => 1.0,
        "k" | "K" => 1e3,
        "m" | "M" => 1e6,
        _ if text.starts_with('-') => {
            return Err(format!("`{text}`: a rate must be above 0 ({forms})"))
        }
        other => {
            return Err(format!(
                "unknown rate unit `{other}` in `{text}` (use k or M; {forms})"
            ))
        }
    };
    let number: String = number.chars().filter(|c| *c != '_').collect();
    match number.parse::<f64>().map(|n| n * multiplier) {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        Ok(_) => Err(format!("`{text}`: a rate must be above 0 ({forms})")),
        Err(_) => Err(format!("`{text}` is not a rate ({forms})")),
    }
}

/// Every spelling of a duration's unit, with its length in seconds: one documented set
/// (docs/USAGE.md's Units, the man pages' UNITS), the short forms first.
pub const TIME_UNITS: [(&[&str], f64); 5] = [
    (&["h", "hr", "hour", "hours"], 3600.0),
    (&["m", "min", "mins", "minute", "minutes"], 60.0),
    (&["s", "sec", "secs", "second", "seconds"], 1.0),
    (&["ms", "msec", "msecs"], 1e-3),
    (&["us", "µs", "usec", "usecs"], 1e-6),
];

/// Parses a duration: one or more number-and-unit parts (`250ms`, `1.5s`, `1m30s`,
/// `2h15m`, `2secs`; the units of [`TIME_UNITS`]) or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let forms = "try 250ms, 1.5s, 30s, 1m30s or 2h15m; a bare number is seconds";
    if text.starts_with('-') {
        return Err(format!("`{text}`: a duration cannot be negative ({forms})"));
    }
    let number = |digits: &str| {
        digits
            .parse::<f64>()
            .map_err(|_| format!("`{text}` is not a duration ({forms})"))
    };
    let mut seconds = 0.0;
    let mut rest = text;
    if split_number(text).1.is_empty() {
        seconds = number(text)?;
        rest = "";
    }
    while !rest.is_empty() {
        let (digits, after) = split_number(rest);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match TIME_UNITS.iter().find(|(names, _)| names.contains(&unit)) {
            Some((_, scale)) => *scale,
            None if unit.is_empty() => {
                return Err(format!(
                    "`{text}`: `{digits}` needs a unit after the first part ({forms})"
                ))
            }
            None => {
                let known: Vec<String> = TIME_UNITS.iter().map(|(n, _)| n.join("/")).collect();
                return Err(format!(
                    "unknown duration unit `{other}` in `{text}` (units: {}; {forms})",
                    known.join(", "),
                    other = unit
                ));
            }
        };
        seconds += number(digits)? * scale;
        rest = next;
    }
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(format!("duration `{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A duration as whole microseconds (`2500001us`): the spelling [`parse_duration`] reads back
/// exactly, which is how a parent hands a duration to its worker processes.
pub fn exact_duration(d: Duration) -> String {
    format!("{}us", d.as_micros())
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

/// The port both binaries use when an echo address names none.
pub const ECHO_PORT: u16 = 12345;

/// Parses an echo server's address: `IP:PORT`, `host:port`, or a bare IP, which takes
/// [`ECHO_PORT`] (as `--listen` and the client's `ADDR` default to it). An IPv6 address
/// without brackets whose last group could be a port (`::1:80`) is refused as ambiguous,
/// naming both readings, rather than guessed.
pub fn parse_echo_addr(text: &str) -> Result<SocketAddr, String> {
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return match inner.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => Ok(SocketAddr::new(ip.into(), ECHO_PORT)),
            Err(_) => Err(format!("`{text}`: `{inner}` is not an IPv6 address")),
        };
    }
    let Ok(ip) = text.parse::<std::net::IpAddr>() else {
        if !text.contains(':') {
            return Err(format!(
                "`{text}` is neither an IP nor host:port: a bare IP takes port {ECHO_PORT}, \
                 a host name needs its port (e.g. `{text}:{ECHO_PORT}`)"
            ));
        }
        return parse_addr(text);
    };
    if let Some((head, port)) = text.rsplit_once(':') {
        if head.parse::<std::net::Ipv6Addr>().is_ok() && port.parse::<u16>().is_ok() {
            return Err(format!(
                "`{text}` is ambiguous: write `[{head}]:{port}` for port {port} of {head}, or \
                 `[{text}]` for the address {text} (port {ECHO_PORT})"
            ));
        }
    }
    Ok(SocketAddr::new(ip, ECHO_PORT))
}

/// The largest socket buffer size (SO_RCVBUF, SO_SNDBUF) the kernel takes: setsockopt reads
/// the value as a C `int`, so a larger one would wrap (4 GiB arrived as 0, 4 GiB + 1152 as
/// 1.1 KiB).
pub const SOCKET_BUFFER_MAX: usize = i32::MAX as usize;

/// Parses a socket buffer size (0 allowed: the caller says what it means), refusing one the
/// kernel cannot take (above [`SOCKET_BUFFER_MAX`]) with the largest it can.
pub fn parse_socket_buffer(text: &str) -> Result<usize, String> {
    let n = parse_size(text)?;
    match usize::try_from(n) {
        Ok(n) if n <= SOCKET_BUFFER_MAX => Ok(n),
        _ => Err(format!(
            "socket buffer `{text}` is too large: the kernel takes an int: at most \
             {SOCKET_BUFFER_MAX} bytes (2 GiB - 1; net.core.rmem_max caps it lower anyway)"
        )),
    }
}

/// Parses `IP:PORT` or `host:port` (resolved, first address wins). Each way it can be
/// wrong has its own words: no port, a port that is not one, a name that did not resolve.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let want = "want IP:PORT or host:port, e.g. 127.0.0.1:12345 ([::1]:12345 for IPv6)";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` has no port: {want}"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "`{text}`: `{port}` is not a port (0 to 65535): {want}"
        ));
    }
    if host.is_empty() {
        return Err(format!(
            "`{text}` names no host: give a host, e.g. 127.0.0.1:{port} or 0.0.0.0:{port} \
             (every interface)"
        ));
    }
    text.to_socket_addrs()
        .map_err(|e| {
            format!("`{host}` did not resolve ({e}): give an IP, or a name this machine resolves")
        })?
        .next()
        .ok_or_else(|| format!("`{host}` resolves to no address: give an IP"))
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
    fn a_bare_ip_takes_the_echo_port() {
        assert_eq!(
            parse_echo_addr("127.0.0.1"),
            Ok(([127, 0, 0, 1], 12345).into())
        );
        assert_eq!(
            parse_echo_addr("::1"),
            Ok(("::1".parse::<std::net::IpAddr>().unwrap(), 12345).into())
        );
        assert_eq!(parse_echo_addr("[::1]"), parse_echo_addr("::1"));
        assert_eq!(
            parse_echo_addr("127.0.0.2:7"),
            Ok(([127, 0, 0, 2], 7).into())
        );
        assert!(parse_echo_addr("sweeps").is_err());
        assert_eq!(
            parse_echo_addr("::1:12345"),
            Ok(("::1".parse::<std::net::IpAddr>().unwrap(), 12345).into())
        );
    }

    /// `::1:80` is an IPv6 address and also `::1` with port 80: it used to be taken as the
    /// address alone, and the client then waited on a host no one has.
    #[test]
    fn an_ipv6_address_that_could_end_in_a_port_must_be_bracketed() {
        let why = parse_echo_addr("::1:80").unwrap_err();
        assert!(
            why.contains("`[::1]:80` for port 80") && why.contains("`[::1:80]` for the address"),
            "{why}"
        );
        assert!(parse_echo_addr("2001:db8::1:0").is_err());
        assert_eq!(
            parse_echo_addr("[::1:80]"),
            Ok(("::1:80".parse::<std::net::IpAddr>().unwrap(), 12345).into())
        );
        for clear in ["fe80::1", "2001:db8::1", "::ffff:127.0.0.1", "::"] {
            assert!(parse_echo_addr(clear).is_ok(), "{clear}");
        }
        assert!(parse_echo_addr("[127.0.0.1]").is_err());
    }

    #[test]
    fn each_wrong_address_says_what_is_wrong() {
        let says = |text: &str, what: &str| {
            let why = parse_echo_addr(text).unwrap_err();
            assert!(why.contains(what), "{text}: {why}");
        };
        says(
            "localhost",
            "a host name needs its port (e.g. `localhost:12345`)",
        );
        says("127.0.0.1:http", "`http` is not a port");
        says("127.0.0.1:70000", "`70000` is not a port");
        says(
            "nosuchhost.invalid:12345",
            "`nosuchhost.invalid` did not resolve",
        );
        // The client's ADDR and the server's --listen alike: not that `` did not resolve.
        says(":0", "give a host, e.g. 127.0.0.1:0 or 0.0.0.0:0");
        says(":12345", "e.g. 127.0.0.1:12345 or 0.0.0.0:12345");
        assert!(parse_addr(":9100").is_err_and(|why| why.contains("names no host")));
        assert!(
            parse_addr("127.0.0.1").is_err(),
            "other addresses still need a port"
        );
    }

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
        assert_eq!(parse_socket_buffer("0"), Ok(0));
        assert_eq!(parse_socket_buffer("2147483647"), Ok(SOCKET_BUFFER_MAX));
        for too_large in ["2GiB", "2147483648", "4GiB", "4294968448"] {
            let err = parse_socket_buffer(too_large).expect_err(too_large);
            assert!(err.contains("at most 2147483647 bytes"), "{err}");
        }
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
        // One set of spellings, each accepted in every form it lists.
        assert_eq!(parse_duration("2secs"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1min"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("3minutes"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1hour30mins"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250msec"), Ok(Duration::from_millis(250)));
        for (names, scale) in TIME_UNITS {
            for name in names {
                assert_eq!(
                    parse_duration(&format!("2{name}")),
                    Ok(Duration::from_secs_f64(2.0 * scale))
                );
            }
        }
        let unknown = parse_duration("5days").unwrap_err();
        assert!(unknown.contains("s/sec/secs/second/seconds"), "{unknown}");
    }

    #[test]
    fn sizes_take_terabytes_and_fractions_of_whole_bytes() {
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size("1TiB"), Ok(1 << 40));
        assert_eq!(parse_size("3TB"), Ok(3_000_000_000_000));
        assert_eq!(parse_size("1.5MiB"), Ok(3 << 19));
        assert_eq!(parse_size("0.5k"), Ok(512));
        assert_eq!(parse_size(".25KiB"), Ok(256));
        assert_eq!(parse_size("2.50KB"), Ok(2500));
        let err = parse_size("0.1k").unwrap_err();
        assert!(err.contains("fraction of a byte"), "{err}");
        assert!(parse_size("1.5")
            .unwrap_err()
            .contains("fraction of a byte"));
        let err = parse_size("-5").unwrap_err();
        assert!(
            err.contains("cannot be negative") && err.contains("64KiB"),
            "{err}"
        );
        let err = parse_size("5q").unwrap_err();
        assert!(err.contains("TiB") && err.contains("MB"), "{err}");
        assert!(parse_size("1.2.3k").is_err());
        assert!(parse_size(".").is_err());
        assert!(parse_size("16777216T").is_err(), "2^64 bytes does not fit");
    }

    #[test]
    fn counts_are_decimal_unless_spelled_binary() {
        assert_eq!(parse_count("1000"), Ok(1000));
        assert_eq!(parse_count("32k"), Ok(32_000));
        assert_eq!(parse_count("2.5k"), Ok(2500));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("32Ki"), Ok(32_768));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_count("0"), Ok(0));
        assert!(parse_count("1.5").unwrap_err().contains("whole count"));
        assert!(parse_count("0.0001k").unwrap_err().contains("whole count"));
        let err = parse_count("-5").unwrap_err();
        assert!(err.contains("`-5`") && err.contains("negative"), "{err}");
        let err = parse_count("32KiB").unwrap_err();
        assert!(err.contains("Ki") && err.contains("32,768"), "{err}");
        assert!(parse_count("lots").unwrap_err().contains("not a count"));
        assert!(parse_count("99999999999999999999").is_err());
        let err = parse_positive_count("0", "connection").unwrap_err();
        assert!(err.contains("at least 1 connection"), "{err}");
        assert_eq!(parse_positive_count("2k", "connection"), Ok(2000));
    }

    #[test]
    fn rates_are_positive_finite_and_decimal() {
        assert_eq!(parse_rate("500"), Ok(500.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert_eq!(parse_rate("10k"), Ok(10_000.0));
        assert_eq!(parse_rate("2.5k"), Ok(2500.0));
        assert_eq!(parse_rate("1M"), Ok(1e6));
        for bad in ["0", "-5", "-1k", "0k", "inf", "NaN", "fast", "", "1e999"] {
            let err = parse_rate(bad).unwrap_err();
            assert!(err.contains("10k"), "{bad}: {err}");
        }
        assert!(parse_rate("10x").unwrap_err().contains("unknown rate unit"));
    }

    #[test]
    fn durations_compound() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h15m"), Ok(Duration::from_secs(8100)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        let err = parse_duration("1m30").unwrap_err();
        assert!(
            err.contains("needs a unit") && err.contains("1m30s"),
            "{err}"
        );
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("ms").unwrap_err().contains("not a duration"));
        assert!(parse_duration("1m30x")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999h").is_err());
    }
}
