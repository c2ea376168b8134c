//! What the kernel says about load on this box (Linux; empty, zero or None elsewhere): each
//! CPU's busy share, which CPUs a process may run on, TCP counters of the current network
//! namespace (all from /proc), and a listener's accept queue (from sock_diag: /proc/net/tcp
//! shows a listener's queue but not its backlog); and which release the kernel is, for
//! features no probe reports.

use std::collections::HashMap;

use crate::sys;

/// The running kernel's release, `/proc/sys/kernel/osrelease` (e.g. `6.18.0-1-amd64`), if
/// readable.
pub fn release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|r| r.trim().to_string())
}

/// A release's (major, minor): `6.18.0-1-amd64` → (6, 18).
pub fn major_minor(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether the running kernel is Linux `version` (major, minor) or later; false when its
/// release cannot be read.
pub fn release_at_least(version: (u32, u32)) -> bool {
    release()
        .as_deref()
        .and_then(major_minor)
        .is_some_and(|v| v >= version)
}

/// CPU numbers at or above this are taken for garbage, not allocated for.
const MAX_CPUS: usize = 1 << 16;

/// Cumulative ticks of one CPU from /proc/stat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// user + nice + system + irq + softirq + steal (guest time is inside user).
    pub busy: u64,
    /// busy + idle + iowait.
    pub total: u64,
}

/// Each CPU's ticks, indexed by CPU number ("cpu3" → index 3; a CPU missing from the text is None).
pub fn cpu_ticks() -> Vec<Option<CpuTicks>> {
    parse_cpu_ticks(&read("/proc/stat"))
}

/// [`cpu_ticks`] of a /proc/stat text; the aggregate "cpu" line is ignored, absent fields are 0.
pub fn parse_cpu_ticks(text: &str) -> Vec<Option<CpuTicks>> {
    let mut cpus = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let cpu = fields
            .next()
            .and_then(|f| f.strip_prefix("cpu")?.parse::<usize>().ok());
        let Some(cpu) = cpu.filter(|&c| c < MAX_CPUS) else {
            continue;
        };
        let n: Vec<u64> = fields.map(|f| f.parse().unwrap_or(0)).collect();
        let f = |i: usize| n.get(i - 1).copied().unwrap_or(0);
        let busy = f(1) + f(2) + f(3) + f(6) + f(7) + f(8);
        cpus.resize(cpus.len().max(cpu + 1), None);
        cpus[cpu] = Some(CpuTicks {
            busy,
            total: busy + f(4) + f(5),
        });
    }
    cpus
}

/// Busy share in percent (0..=100) of `cpu` over `wall_s` seconds between two reads: the
/// time it was not idle. Idle time is exact on a tickless kernel (from the idle loop), but
/// busy ticks are sampled, and a CPU woken by timers does its work between ticks: at 2,000
/// paced connects/s a core 41% busy by its idle time counted 18% by its busy ticks, and
/// 70 of every 300 ticks went missing. `None` when either read lacks the CPU, or no time
/// passed.
pub fn busy_pct(
    before: &[Option<CpuTicks>],
    after: &[Option<CpuTicks>],
    cpu: usize,
    wall_s: f64,
) -> Option<f64> {
    let (b, a) = (before.get(cpu).copied()??, after.get(cpu).copied()??);
    if wall_s <= 0.0 {
        return None;
    }
    let idle = (a.total - a.busy).saturating_sub(b.total - b.busy) as f64 / sys::clock_ticks();
    Some((100.0 * (1.0 - idle / wall_s)).clamp(0.0, 100.0))
}

/// The CPUs process `pid` may run on (Cpus_allowed_list in /proc/PID/status, e.g. "0-1,3");
/// empty when unreadable.
pub fn allowed_cpus(pid: u32) -> Vec<usize> {
    let status = read(&format!("/proc/{pid}/status"));
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"));
    parse_cpu_list(list.unwrap_or_default())
}

/// A kernel CPU list ("0-1,3") as CPU numbers in its order; parts that do not parse are skipped.
pub fn parse_cpu_list(list: &str) -> Vec<usize> {
    let range = |part: &str| {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi) = (lo.trim().parse::<usize>().ok()?, hi.trim().parse().ok()?);
        (hi < MAX_CPUS).then_some(lo..=hi)
    };
    list.trim().split(',').filter_map(range).flatten().collect()
}

/// TCP counters of this network namespace. Counters are cumulative since boot (or the
/// namespace's creation); `since` turns them into deltas. Gauges are the values at the read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Connections dropped because a listener's accept queue was full (TcpExt ListenOverflows).
    pub listen_overflows: u64,
    /// SYNs and connections listeners dropped, overflows included (TcpExt ListenDrops).
    pub listen_drops: u64,
    /// SYN and SYN-ACK retransmissions (TcpExt TCPSynRetrans).
    pub syn_retrans: u64,
    /// SYN cookies sent because a SYN queue was full (TcpExt SyncookiesSent).
    pub syncookies_sent: u64,
    /// Segments retransmitted (Tcp RetransSegs, /proc/net/snmp).
    pub retrans_segs: u64,
    /// Connections aborted for want of memory (TcpExt TCPAbortOnMemory).
    pub abort_on_memory: u64,
    /// Times TCP entered memory pressure (TcpExt TCPMemoryPressures).
    pub memory_pressures: u64,
    /// Gauge: IPv4 TCP sockets in use (IPv6 ones are in /proc/net/sockstat6).
    pub in_use: u64,
    /// Gauge: sockets no longer tied to a process, still closing (the whole host's).
    pub orphans: u64,
    /// Gauge: sockets in TIME-WAIT.
    pub time_wait: u64,
    /// Gauge: pages TCP buffers hold (the whole host's), to compare with `tcp_mem`.
    pub mem_pages: u64,
    /// net.ipv4.tcp_mem (pages): below `[1]` no pressure, above `[2]` allocations fail;
    /// `[0, 0, 0]` when unreadable.
    pub tcp_mem: [u64; 3],
}

impl TcpCounters {
    /// Reads the four files of the current network namespace.
    pub fn read() -> TcpCounters {
        TcpCounters::read_of(None)
    }

    /// Reads them in the network namespace of process `pid` (`None`: this thread's), e.g.
    /// a server's in a namespace of its own, whose listener overflows there.
    pub fn read_of(pid: Option<u32>) -> TcpCounters {
        let dir = pid.map_or("/proc/net".to_string(), |p| format!("/proc/{p}/net"));
        let [netstat, snmp, sockstat] =
            ["netstat", "snmp", "sockstat"].map(|f| read(&format!("{dir}/{f}")));
        TcpCounters::from_texts(
            &netstat,
            &snmp,
            &sockstat,
            &read("/proc/sys/net/ipv4/tcp_mem"),
        )
    }

    fn from_texts(netstat: &str, snmp: &str, sockstat: &str, tcp_mem: &str) -> TcpCounters {
        let mut n = parse_netstat(netstat);
        n.extend(parse_netstat(snmp));
        let c = |k: &str| n.get(k).copied().unwrap_or(0);
        let s = sockstat_tcp(sockstat);
        let g = |k: &str| s.get(k).copied().unwrap_or(0);
        TcpCounters {
            listen_overflows: c("TcpExt:ListenOverflows"),
            listen_drops: c("TcpExt:ListenDrops"),
            syn_retrans: c("TcpExt:TCPSynRetrans"),
            syncookies_sent: c("TcpExt:SyncookiesSent"),
            retrans_segs: c("Tcp:RetransSegs"),
            abort_on_memory: c("TcpExt:TCPAbortOnMemory"),
            memory_pressures: c("TcpExt:TCPMemoryPressures"),
            in_use: g("inuse"),
            orphans: g("orphan"),
            time_wait: g("tw"),
            mem_pages: g("mem"),
            tcp_mem: parse_tcp_mem(tcp_mem),
        }
    }

    /// The counters as deltas from `before` (saturating at 0: a counter that went back, e.g.
    /// a new namespace, gives 0); gauges and tcp_mem are self's.
    pub fn since(&self, before: &TcpCounters) -> TcpCounters {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        TcpCounters {
            listen_overflows: d(self.listen_overflows, before.listen_overflows),
            listen_drops: d(self.listen_drops, before.listen_drops),
            syn_retrans: d(self.syn_retrans, before.syn_retrans),
            syncookies_sent: d(self.syncookies_sent, before.syncookies_sent),
            retrans_segs: d(self.retrans_segs, before.retrans_segs),
            abort_on_memory: d(self.abort_on_memory, before.abort_on_memory),
            memory_pressures: d(self.memory_pressures, before.memory_pressures),
            ..*self
        }
    }
}

/// /proc/net/netstat or /proc/net/snmp (a header line, then a value line of the same prefix)
/// as "TcpExt:ListenOverflows" → n; values that are no u64 (snmp's MaxConn -1) are left out.
pub fn parse_netstat(text: &str) -> HashMap<String, u64> {
    let lines: Vec<&str> = text.lines().collect();
    let mut map = HashMap::new();
    for pair in lines.chunks_exact(2) {
        let (Some((p, names)), Some((q, values))) =
            (pair[0].split_once(':'), pair[1].split_once(':'))
        else {
            continue;
        };
        for (name, v) in names.split_whitespace().zip(values.split_whitespace()) {
            match v.parse() {
                Ok(v) if p == q => map.insert(format!("{p}:{name}"), v),
                _ => None,
            };
        }
    }
    map
}

/// The "TCP:" line of /proc/net/sockstat as name → value ("inuse", "orphan", "tw", "mem").
fn sockstat_tcp(text: &str) -> HashMap<&str, u64> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("TCP:"))
        .unwrap_or_default();
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields
        .chunks_exact(2)
        .filter_map(|kv| Some((kv[0], kv[1].parse().ok()?)))
        .collect()
}

/// /proc/sys/net/ipv4/tcp_mem's three numbers; [0, 0, 0] unless there are exactly three.
fn parse_tcp_mem(text: &str) -> [u64; 3] {
    let v: Vec<u64> = text
        .split_whitespace()
        .map_while(|f| f.parse().ok())
        .collect();
    <[u64; 3]>::try_from(v).unwrap_or_default()
}

/// A listening socket's accept queue: the first listener on `port` (any address, IPv4 then IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptQueue {
    /// Connections the kernel completed that wait for accept() (sk_ack_backlog).
    pub queued: u64,
    /// The most that may wait (sk_max_ack_backlog: listen()'s backlog capped by net.core.somaxconn).
    pub backlog: u64,
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCP_LISTEN: u8 = 10;

/// The accept queue of the listener on `port` in this network namespace, asked of sock_diag
/// (what `ss -lnt` shows); None when there is none or the kernel will not say.
pub fn accept_queue(port: u16) -> Option<AcceptQueue> {
    #[cfg(target_os = "linux")]
    {
        [libc::AF_INET, libc::AF_INET6]
            .into_iter()
            .find_map(|family| parse_accept_queue(&listeners(family as u8)?, port))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        None
    }
}

/// The listeners' netlink dump of one address family, as the datagrams came (each padded to 4).
#[cfg(target_os = "linux")]
fn listeners(family: u8) -> Option<Vec<u8>> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::io::Read;
    let kind = Some(Protocol::from(libc::NETLINK_SOCK_DIAG));
    let sock = Socket::new(Domain::from(libc::AF_NETLINK), Type::DGRAM, kind).ok()?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .ok()?;
    let mut req = 72u32.to_ne_bytes().to_vec(); // nlmsghdr, then inet_diag_req_v2
    req.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend(((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req.extend([0; 8]); // sequence number, port id
    req.extend([family, libc::IPPROTO_TCP as u8, 0, 0]);
    req.extend((1u32 << TCP_LISTEN).to_ne_bytes());
    req.resize(72, 0); // inet_diag_sockid: a dump does not look at it
    sock.send(&req).ok()?;
    let (mut dump, mut buf) = (Vec::new(), vec![0; 64 << 10]);
    loop {
        let n = (&sock).read(&mut buf).ok()?;
        let got = buf.get(..n)?;
        dump.extend_from_slice(got);
        dump.resize(dump.len().next_multiple_of(4), 0);
        // The dump ends with NLMSG_DONE (or NLMSG_ERROR): any message not a socket.
        if got.is_empty() || messages(got).any(|(kind, _)| kind != SOCK_DIAG_BY_FAMILY) {
            return Some(dump);
        }
    }
}

/// The listener on `port` in a sock_diag dump (netlink messages, each an nlmsghdr then an
/// inet_diag_msg); reading stops at the first message that is no socket or does not fit.
pub fn parse_accept_queue(dump: &[u8], port: u16) -> Option<AcceptQueue> {
    messages(dump)
        .take_while(|&(kind, _)| kind == SOCK_DIAG_BY_FAMILY)
        .find_map(|(_, m)| {
            let u32_at = |i: usize| Some(u32::from_ne_bytes(m.get(i..i + 4)?.try_into().ok()?));
            let sport = u16::from_be_bytes(m.get(20..22)?.try_into().ok()?);
            (m.get(17) == Some(&TCP_LISTEN) && sport == port).then_some(())?;
            let (queued, backlog) = (u32_at(72)?.into(), u32_at(76)?.into());
            Some(AcceptQueue { queued, backlog })
        })
}

/// The netlink messages of `buf` as (type, whole message), until one does not fit.
fn messages(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u32::from_ne_bytes(buf.get(..4)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(buf.get(4..6)?.try_into().ok()?);
        let msg = buf.get(..len).filter(|_| len >= 16)?;
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
        Some((kind, msg))
    })
}

/// A file's text, empty when it cannot be read (not Linux, no such process).
fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_read_with_their_suffixes() {
        assert_eq!(major_minor("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(major_minor("5.19-rc1"), Some((5, 19)));
        assert_eq!(major_minor("garbage"), None);
    }

    // This machine's /proc, shortened; cpu1 renamed cpu2 (an offline CPU leaves a gap), and in
    // NETSTAT and SOCKSTAT a few equal values made distinct so that no two fields can swap.
    const STAT_BEFORE: &str = "cpu  22377 0 13376 1602651 749 0 2150 34 0 0
cpu0 10240 0 6066 803055 321 0 1088 17 0 0
cpu2 12137 0 7310 799596 428 0 1062 17 0 0
intr 1056784 0 0 0 0
ctxt 2934372
";
    const STAT_AFTER: &str = "cpu  22563 0 13635 1638677 768 0 2152 35 0 0
cpu0 10271 0 6149 821181 325 0 1088 17 0 0
cpu2 12292 0 7485 817495 442 0 1064 17 0 0
";
    const NETSTAT: &str = "\
TcpExt: SyncookiesSent TW ListenOverflows ListenDrops TCPAbortOnMemory TCPMemoryPressures TCPSynRetrans
TcpExt: 34 39466 295 296 3 2 241
IpExt: InNoRoutes ListenDrops InMcastPkts
IpExt: 0 7 0
";
    const SNMP: &str = "\
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens RetransSegs
Tcp: 1 200 120000 -1 42268 2632
";
    const SOCKSTAT: &str = "sockets: used 21
TCP: inuse 12 orphan 1 tw 10 alloc 12 mem 4885
UDP: inuse 0 mem 0
";
    // sock_diag dump of AF_INET listeners: port 2024 (0 queued of 128), port 59465 (3 of 7), done.
    const DIAG: &str = "\
7c00000014000200010000000a7f0000020a000007e8000000000000000000000000000000000000000000000000\
00000000000000000000000000006b0000000000000000000000000000008000000000000000eb04000005000800\
0000000008000f00000000000c00150001000000000000000600160052000000\
7c00000014000200010000000a7f0000020a0000e84900007f000001000000000000000000000000000000000000\
00000000000000000000000000006d000000000000000000000003000000070000000000000008df020005000800\
0000000008000f00000000000c00150001000000000000000600160052000000\
1400000003000200010000000a7f000000000000";

    fn unhex(hex: &str) -> Vec<u8> {
        let byte = |i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        (0..hex.len()).step_by(2).map(byte).collect()
    }
    fn ticks(busy: u64, total: u64) -> Option<CpuTicks> {
        Some(CpuTicks { busy, total })
    }
    fn queue(queued: u64, backlog: u64) -> Option<AcceptQueue> {
        Some(AcceptQueue { queued, backlog })
    }

    #[test]
    fn cpu_ticks_are_indexed_by_cpu_number_without_the_aggregate() {
        let cpu0 = ticks(10240 + 6066 + 1088 + 17, 17411 + 803055 + 321);
        assert_eq!(
            parse_cpu_ticks(STAT_BEFORE),
            [cpu0, None, ticks(20526, 820550)]
        );
        // An old kernel's line without steal: the missing field counts 0.
        assert_eq!(parse_cpu_ticks("cpu1 1 2 3 4 5 6 7"), [None, ticks(19, 28)]);
        assert!(parse_cpu_ticks("").is_empty());
    }

    #[test]
    fn busy_pct_is_the_busy_share_of_the_ticks_between_reads() {
        let (before, after) = (parse_cpu_ticks(STAT_BEFORE), parse_cpu_ticks(STAT_AFTER));
        // 18,130 idle ticks passed; over 18,244 ticks' time, the rest was busy.
        let wall = 18244.0 / sys::clock_ticks();
        let pct = busy_pct(&before, &after, 0, wall).unwrap();
        assert!((pct - 100.0 * 114.0 / 18244.0).abs() < 1e-9, "{pct}");
        assert_eq!(busy_pct(&before, &after, 1, wall), None); // absent from both
        assert_eq!(busy_pct(&before, &after, 3, wall), None); // beyond both
        assert_eq!(busy_pct(&after, &after, 0, 0.0), None); // no time passed
                                                            // Busy ticks that went missing do not count as idle: no idle tick, all busy.
        let wall = 20.0 / sys::clock_ticks();
        assert_eq!(
            busy_pct(&[ticks(0, 10)], &[ticks(5, 15)], 0, wall),
            Some(100.0)
        );
        // Half the time idle: half busy, whatever the busy ticks say.
        assert_eq!(
            busy_pct(&[ticks(0, 0)], &[ticks(0, 10)], 0, wall),
            Some(50.0)
        );
    }

    #[test]
    fn cpu_lists_expand_ranges_and_skip_garbage() {
        assert_eq!(parse_cpu_list("0-1,3\n"), [0, 1, 3]);
        assert_eq!(parse_cpu_list("x,2,4-z,0-99999999"), [2]);
        assert!(parse_cpu_list("").is_empty());
    }

    #[test]
    fn netstat_and_snmp_pair_each_header_with_its_values() {
        let n = parse_netstat(NETSTAT);
        let got = (
            n.get("TcpExt:ListenDrops"),
            n.get("IpExt:ListenDrops"),
            n.len(),
        );
        assert_eq!(got, (Some(&296), Some(&7), 10));
        let s = parse_netstat(SNMP);
        assert_eq!((s.get("Tcp:RetransSegs"), s.len()), (Some(&2632), 5)); // MaxConn -1 left out
    }

    #[test]
    fn tcp_counters_take_each_field_from_its_line_and_since_subtracts_counters() {
        let tcp = TcpCounters::from_texts(NETSTAT, SNMP, SOCKSTAT, "287913\t383885\t575826\n");
        let want = TcpCounters {
            listen_overflows: 295,
            listen_drops: 296,
            syn_retrans: 241,
            syncookies_sent: 34,
            retrans_segs: 2632,
            abort_on_memory: 3,
            memory_pressures: 2,
            in_use: 12,
            orphans: 1,
            time_wait: 10,
            mem_pages: 4885,
            tcp_mem: [287913, 383885, 575826],
        };
        assert_eq!(tcp, want);
        assert_eq!(
            TcpCounters::from_texts("", "", "", "1 2"),
            TcpCounters::default()
        );
        let before = TcpCounters {
            listen_overflows: 290,
            retrans_segs: 3000,
            in_use: 1,
            ..want
        };
        let d = tcp.since(&before);
        let got = (
            d.listen_overflows,
            d.retrans_segs,
            d.syn_retrans,
            d.in_use,
            d.tcp_mem,
        );
        assert_eq!(got, (5, 0, 0, 12, want.tcp_mem));
    }

    #[test]
    fn accept_queue_is_found_by_port_in_a_sock_diag_dump() {
        let dump = unhex(DIAG);
        assert_eq!(parse_accept_queue(&dump, 59465), queue(3, 7));
        assert_eq!(parse_accept_queue(&dump, 2024), queue(0, 128));
        assert_eq!(parse_accept_queue(&dump, 80), None);
        assert_eq!(parse_accept_queue(&dump[..200], 59465), None); // cut short
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn live_proc_has_our_cpus_and_tcp_counters() {
        let (ticks, cpus) = (cpu_ticks(), allowed_cpus(std::process::id()));
        assert!(!cpus.is_empty());
        for cpu in cpus {
            let t = ticks.get(cpu).copied().flatten();
            assert!(t.is_some_and(|t| t.total > t.busy), "cpu{cpu}: {ticks:?}");
        }
        let n = parse_netstat(&read("/proc/net/netstat"));
        assert!(n.contains_key("TcpExt:TCPSynRetrans") && n.contains_key("TcpExt:ListenOverflows"));
        assert!(parse_netstat(&read("/proc/net/snmp")).contains_key("Tcp:RetransSegs"));
        let mem = TcpCounters::read().tcp_mem;
        assert!(
            0 < mem[0] && mem[0] <= mem[1] && mem[1] <= mem[2],
            "{mem:?}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn accept_queue_of_a_live_listener_shows_its_backlog_and_waiting_connections() {
        use socket2::{Domain, Socket, Type};
        use std::net::{SocketAddr, TcpStream};
        use std::time::{Duration, Instant};
        let listen = |addr: SocketAddr, backlog| {
            let s = Socket::new(Domain::for_address(addr), Type::STREAM, None).ok()?;
            s.bind(&addr.into()).ok()?;
            s.listen(backlog).ok()?;
            let port = s.local_addr().ok()?.as_socket()?.port();
            Some((s, SocketAddr::new(addr.ip(), port)))
        };
        let (_v4, addr) = listen(([127, 0, 0, 1], 0).into(), 7).unwrap();
        assert_eq!(accept_queue(addr.port()), queue(0, 7));
        let _waiting = [
            TcpStream::connect(addr).unwrap(),
            TcpStream::connect(addr).unwrap(),
        ];
        let deadline = Instant::now() + Duration::from_secs(5);
        while accept_queue(addr.port()) != queue(2, 7) {
            assert!(Instant::now() < deadline, "{:?}", accept_queue(addr.port()));
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some((_v6, addr)) = listen("[::1]:0".parse().unwrap(), 5) {
            assert_eq!(accept_queue(addr.port()), queue(0, 5));
        }
    }
}
