//! Before a run: can this box hold N connections? Descriptors per process and ephemeral
//! ports per source address, each with the fix named. Exit code 2 when it cannot fit. (The
//! warning when the kernel would trim the receive buffer each connection asks for is
//! `hostkit::limits::receive_buffer_note`, which echo-server says too.)

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hostkit::limits::{capacity_problem, FdLimit};
use hostkit::units::human_bytes;

/// Fraction of the ephemeral port range planned for, leaving room for other sockets and
/// TIME_WAIT leftovers of earlier runs.
const PORT_HEADROOM: f64 = 0.9;
/// The page size `net.ipv4.tcp_mem` counts in (4 KiB on every Linux this runs on).
const PAGE: u64 = 4096;
/// Descriptors kept free for everything else on the box when checking `fs.file-max`.
const FILES_HEADROOM: u64 = 10_000;

/// Connections per source address beyond which a loopback target gets more source
/// addresses: the kernel's search for a free port slows as the range fills (measured: 32,768
/// connections took 5.7 s to connect over 2 addresses, 0.74 s over 8).
pub(crate) const SPREAD_ABOVE: u64 = 4096;

/// The kernel facts the checks use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// This process's descriptor limit (after raising the soft limit).
    pub(crate) fd_limit: FdLimit,
    /// `net.ipv4.ip_local_port_range` (low, high), if readable.
    pub(crate) port_range: Option<(u64, u64)>,
    /// Open files of the whole system: (allocated now, `fs.file-max`), if readable.
    pub(crate) files: Option<(u64, u64)>,
    /// `net.ipv4.tcp_mem`'s ceiling in bytes (its third value, in pages), if readable.
    pub(crate) tcp_mem_max: Option<u64>,
}

impl Facts {
    /// Reads the facts of this machine.
    pub(crate) fn of_this_machine(fd_limit: FdLimit) -> Facts {
        let port_range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| {
                let mut it = s.split_whitespace().map(|v| v.parse::<u64>().ok());
                Some((it.next()??, it.next()??))
            });
        let numbers = |path: &str| -> Vec<u64> {
            std::fs::read_to_string(path)
                .map(|s| {
                    s.split_whitespace()
                        .filter_map(|v| v.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let files = match numbers("/proc/sys/fs/file-nr")[..] {
            [allocated, _, max] => Some((allocated, max)),
            _ => None,
        };
        let tcp_mem_max = match numbers("/proc/sys/net/ipv4/tcp_mem")[..] {
            [_, _, max] => Some(max.saturating_mul(PAGE)),
            _ => None,
        };
        Facts {
            fd_limit,
            port_range,
            files,
            tcp_mem_max,
        }
    }

    /// Ports one source address can use towards one destination.
    pub(crate) fn ports_per_source(&self) -> Option<u64> {
        self.port_range
            .map(|(lo, hi)| ((hi.saturating_sub(lo) + 1) as f64 * PORT_HEADROOM) as u64)
    }
}

/// Checks that `connections` fit in `processes` processes and in the port range; returns the
/// source addresses to use (given ones, or loopback ones chosen to spread a loopback target)
/// and a note to print, or the reason it cannot fit.
pub(crate) fn check(
    connections: u64,
    processes: u64,
    sources: &[IpAddr],
    target: SocketAddr,
    facts: &Facts,
) -> Result<(Vec<IpAddr>, Option<String>), String> {
    if let Some(problem) = capacity_problem(connections, processes, facts.fd_limit) {
        return Err(problem);
    }
    if let Some(problem) = system_files_problem(connections, target, facts) {
        return Err(problem);
    }
    if let Some(ip) = sources.iter().find(|ip| ip.is_ipv4() != target.is_ipv4()) {
        return Err(format!(
            "--source {ip} and the target {target} are of different IP versions, so no \
             connection from it can be made. Fix: give --source addresses of the target's version."
        ));
    }
    let per_source = facts.ports_per_source().unwrap_or(u64::MAX).max(1);
    let have = sources.len().max(1) as u64;
    let loopback_v4 = target.ip().is_loopback() && target.is_ipv4();
    if sources.is_empty() && loopback_v4 && connections > SPREAD_ABOVE {
        let wanted = connections.div_ceil(per_source.min(SPREAD_ABOVE)).min(250);
        let auto: Vec<IpAddr> = (1..=wanted as u8)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
            .collect();
        if connections <= per_source * wanted {
            let note = format!(
                "spreading {connections} connections over source addresses \
                 127.0.0.1-127.0.0.{wanted} (at most {SPREAD_ABOVE} each keeps connect fast)"
            );
            return Ok((auto, Some(note)));
        }
    }
    if connections <= per_source.saturating_mul(have) {
        return Ok((sources.to_vec(), None));
    }
    let needed = connections.div_ceil(per_source);
    let (lo, hi) = facts.port_range.unwrap_or((0, 0));
    let sources_fix = match target.ip() {
        IpAddr::V4(_) => format!(
            "--source with {needed} or more addresses (e.g. 127.0.0.1-127.0.0.{needed} for a \
             loopback target)"
        ),
        IpAddr::V6(ip) if ip.is_loopback() => format!(
            "IPv6 has one loopback address (::1), so no other source can spread this run: \
             target 127.0.0.1 instead, where --source 127.0.0.1-127.0.0.{needed} spreads it"
        ),
        IpAddr::V6(_) => format!(
            "--source with {needed} or more IPv6 addresses of this host, as a comma-separated \
             list (ranges are IPv4 only)"
        ),
    };
    Err(format!(
        "{connections} connections to {target} need {connections} local ports, but \
         net.ipv4.ip_local_port_range {lo}-{hi} (which IPv6 uses too) gives about {per_source} \
         per source address and {have} source address(es) are in use. Fix: {sources_fix}; or \
         widen the range with scripts/tune-kernel.sh apply."
    ))
}

/// The system-wide open-file ceiling (`fs.file-max`), which no per-process limit passes: a
/// loopback run holds both ends of every connection on this box.
fn system_files_problem(connections: u64, target: SocketAddr, facts: &Facts) -> Option<String> {
    let (allocated, max) = facts.files?;
    let ends = if target.ip().is_loopback() { 2 } else { 1 };
    let need = connections.saturating_mul(ends);
    let free = max.saturating_sub(allocated).saturating_sub(FILES_HEADROOM);
    if need <= free {
        return None;
    }
    let wanted = allocated
        .saturating_add(need)
        .saturating_add(FILES_HEADROOM);
    Some(format!(
        "{connections} connections need {need} open files on this box ({ends} per connection \
         to {target}), but fs.file-max {max} leaves {free} free ({allocated} in use, \
         {FILES_HEADROOM} kept back). Fix: raise it on the host with scripts/tune-kernel.sh \
         apply --profile million --only global (4,400,000), or sysctl -w fs.file-max={wanted}."
    ))
}

/// A warning when the bytes in flight at once (`streaming` connections x `in_flight` each,
/// which loopback holds twice: the request queued at the server and its echo queued back)
/// pass `net.ipv4.tcp_mem`'s ceiling, where the kernel stops granting socket memory and
/// every connection crawls; `--streaming` keeps them under it.
pub(crate) fn tcp_memory_note(streaming: u64, in_flight: u64, facts: &Facts) -> Option<String> {
    let ceiling = facts.tcp_mem_max?;
    let bytes = streaming.saturating_mul(in_flight).saturating_mul(2);
    if bytes <= ceiling {
        return None;
    }
    let fits = (ceiling / 2 / in_flight.max(1)).max(1);
    Some(format!(
        "{streaming} connections streaming {} each at once put about {} in socket queues, \
         above net.ipv4.tcp_mem's ceiling of {}: the kernel then refuses socket memory and \
         every round trip stretches to seconds. --streaming {fits} keeps under it (the rest \
         wait open and idle).",
        human_bytes(in_flight),
        human_bytes(bytes),
        human_bytes(ceiling)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(soft: u64, range: (u64, u64)) -> Facts {
        Facts {
            fd_limit: FdLimit { soft, hard: soft },
            port_range: Some(range),
            files: None,
            tcp_mem_max: None,
        }
    }

    #[test]
    fn descriptors_name_the_limit_and_the_fix() {
        let target: SocketAddr = "127.0.0.1:12345".parse().unwrap();
        let err = check(32_768, 1, &[], target, &facts(20_000, (32768, 60999))).unwrap_err();
        assert!(
            err.contains("20000") && err.contains("--processes 2"),
            "{err}"
        );
        assert!(check(32_768, 2, &[], target, &facts(20_000, (32768, 60999))).is_ok());
    }

    #[test]
    fn ports_spread_over_loopback_sources_or_fail_with_the_fix() {
        let target: SocketAddr = "127.0.0.1:12345".parse().unwrap();
        let f = facts(1 << 20, (32768, 60999));
        let (src, note) = check(100_000, 1, &[], target, &f).unwrap();
        assert_eq!(src.len(), 25);
        assert!(note.unwrap().contains("127.0.0.25"));
        let (src, note) = check(1000, 1, &[], target, &f).unwrap();
        assert!(src.is_empty() && note.is_none());
        let one: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        let err = check(100_000, 1, &one, target, &f).unwrap_err();
        assert!(
            err.contains("ip_local_port_range") && err.contains("--source"),
            "{err}"
        );
        let remote: SocketAddr = "10.0.0.2:7".parse().unwrap();
        assert!(check(100_000, 1, &[], remote, &f).is_err());
    }

    #[test]
    fn the_system_file_limit_counts_both_ends_of_a_loopback_run_and_names_the_fix() {
        let loopback: SocketAddr = "127.0.0.1:12345".parse().unwrap();
        let remote: SocketAddr = "10.0.0.2:7".parse().unwrap();
        let f = Facts {
            files: Some((5_000, 2_466_165)),
            ..facts(1 << 20, (15000, 65000))
        };
        let sources: Vec<IpAddr> = (1..=250)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
            .collect();
        let err = check(2_000_000, 106, &sources, loopback, &f).unwrap_err();
        assert!(
            err.contains("fs.file-max 2466165") && err.contains("4000000 open files"),
            "{err}"
        );
        assert!(
            err.contains("--profile million") && err.contains("fs.file-max=4015000"),
            "{err}"
        );
        assert!(check(1_000_000, 53, &sources, loopback, &f).is_ok());
        assert!(check(2_000_000, 106, &sources, remote, &f).is_ok());
    }

    #[test]
    fn bytes_in_flight_past_tcp_mem_name_the_streaming_cap_that_fits() {
        let f = Facts {
            tcp_mem_max: Some(575_796 * PAGE),
            ..facts(1 << 20, (15000, 65000))
        };
        let note = tcp_memory_note(1_000_000, 32 * 1024, &f).expect("a million 32 KiB is too much");
        assert!(note.contains("--streaming 35987"), "{note}");
        assert!(tcp_memory_note(35_987, 32 * 1024, &f).is_none());
        assert!(tcp_memory_note(35_988, 32 * 1024, &f).is_some());
    }

    #[test]
    fn an_ipv6_target_gets_ipv6_advice() {
        let f = facts(1 << 20, (32768, 60999));
        let loopback: SocketAddr = "[::1]:12345".parse().unwrap();
        let err = check(100_000, 1, &[], loopback, &f).unwrap_err();
        assert!(
            err.contains("one loopback address (::1)") && err.contains("target 127.0.0.1"),
            "{err}"
        );
        assert!(!err.contains("--source with"), "{err}");
        let remote: SocketAddr = "[2001:db8::2]:7".parse().unwrap();
        let err = check(100_000, 1, &[], remote, &f).unwrap_err();
        assert!(
            err.contains("--source with 4 or more IPv6 addresses") && !err.contains("127.0.0."),
            "{err}"
        );
        let v4: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        let err = check(10, 1, &v4, loopback, &f).unwrap_err();
        assert!(err.contains("different IP versions"), "{err}");
    }
}
