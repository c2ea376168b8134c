#!/usr/bin/env python3
"""Reads what bench/two-million.sh left in OUT and prints what it reached, the memory per
connection at each end and every kernel limit met (with the setting that passes it).

    bench/two-million-report.py OUT N
"""
import json
import os
import sys

# The slab caches of one socket's kernel side, largest first (their sum per socket is the
# kernel's own count of what an idle connection holds).
SOCKET_CACHES = ("TCP", "TCPv6", "sock_inode_cache", "dentry", "filp", "eventpoll_epi",
                 "ep_head", "lsm_inode_cache", "lsm_file_cache", "proc_inode_cache")


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def slabs(text):
    """Bytes in each slab cache: active objects x object size."""
    caches = {}
    for line in text.splitlines()[2:]:
        f = line.split()
        if len(f) > 3:
            caches[f[0]] = int(f[1]) * int(f[3])
    return caches


def nstat(text):
    counters = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1].isdigit():
            counters[f[0]] = int(f[1])
    return counters


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    out, n = sys.argv[1], int(sys.argv[2])
    rows = [line.split() for line in read(os.path.join(out, "samples.txt")).splitlines()[1:]]
    rows = [[int(x) for x in r] for r in rows if len(r) == 8]
    report = {}
    try:
        report = json.loads(read(os.path.join(out, "report.json")) or "{}")
    except json.JSONDecodeError:
        pass

    def ms(us):
        """A latency in ms, or a dash where the run measured none (the report says null)."""
        return "-" if us is None else f"{us / 1000:.2f} ms"

    print(f"== two million on one box: {n} connections asked ==")
    if report:
        lat = report.get("corrected", {})
        print(f"held at once      {report.get('peak_concurrent', 0)} (ok {report.get('connections_ok', 0)}, "
              f"failed {report.get('connections_failed', 0)}, errors {report.get('errors', {})})")
        print(f"connect phase     {report.get('connect_phase_s', 0):.1f} s")
        print(f"rate phase        {report.get('achieved_per_s', 0):.0f}/s achieved of "
              f"{report.get('offered_per_s', 0):.0f}/s offered, {report.get('chunks_verified', 0)} "
              f"echoes of 32 KiB verified; latency from schedule p50 {ms(lat.get('p50_us'))}, "
              f"p99 {ms(lat.get('p99_us'))}")
    else:
        print("no report: the run did not finish (see summary.txt and samples.txt)")
    if not rows:
        return
    base = rows[0]
    held = max(rows, key=lambda r: r[1])
    sockets = held[1]
    conns = max(sockets // 2, 1)
    print(f"most sockets seen {sockets} in the namespace (= {sockets // 2} connections, both ends)")

    print("\n== memory per connection (at the sample with the most sockets) ==")
    mem_kib = base[3] - held[3]
    slab_kib = held[4] - base[4]
    print(f"whole box         {mem_kib * 1024 / conns:8.0f} B  (MemAvailable fell {mem_kib / 2**20:.2f} GiB)")
    print(f"kernel slab       {slab_kib * 1024 / conns:8.0f} B  (both sockets; Slab grew {slab_kib / 2**20:.2f} GiB)")
    print(f"kernel TCP bufs   {held[2] * 4096 / conns:8.0f} B  ({held[2]} pages, sockstat mem)")
    print(f"server user space {held[6] * 1024 / conns:8.0f} B  (echo-server RSS {held[6] / 2**20:.2f} GiB)")
    print(f"client user space {held[7] * 1024 / conns:8.0f} B  (flood-client RSS {held[7] / 2**20:.2f} GiB)")
    before = slabs(read(os.path.join(out, "slabinfo-before.txt")))
    after = slabs(read(os.path.join(out, "slabinfo-held.txt")))
    if after:
        print("slab caches per socket (kernel's own counts, grown since the start):")
        total = 0
        for name in SOCKET_CACHES:
            grown = after.get(name, 0) - before.get(name, 0)
            if grown > 0:
                total += grown
                print(f"  {name:18s} {grown / (2 * conns):7.0f} B")
        print(f"  {'sum':18s} {total / (2 * conns):7.0f} B  (proc_inode_cache and half the dentries"
              " come from a /proc/PID/fd reader, if one runs: reclaimable)")

    print("\n== kernel limits met, and the setting that passes each ==")
    limits = read(os.path.join(out, "limits-in-force.txt"))
    print(limits.rstrip())
    c = nstat(read(os.path.join(out, "nstat.txt")))
    peak_files = max(r[5] for r in rows)
    print(f"descriptors       peak {peak_files} in use (fs.file-max; the million profile sets 4,400,000)")
    print(f"per process       {n} connections over {-(-n // 19000)} client processes and as many server"
          " workers (hard open-file limit 20,000 here)")
    print(f"listen backlog    {c.get('TcpExtListenOverflows', 0)} overflows, {c.get('TcpExtListenDrops', 0)}"
          " drops (net.core.somaxconn, net.ipv4.tcp_max_syn_backlog); retried connects: "
          f"{report.get('connect_retries', 0)}")
    print(f"TIME_WAIT buckets {c.get('TcpExtTCPTimeWaitOverflow', 0)} overflows (net.ipv4.tcp_max_tw_buckets)")
    print(f"tcp_mem           {c.get('TcpExtTCPMemoryPressures', 0)} pressure entries, "
          f"{c.get('TcpExtTCPAbortOnMemory', 0)} aborts, {c.get('TcpExtPruneCalled', 0)} prunes; "
          f"most pages {max(r[2] for r in rows)} (net.ipv4.tcp_mem)")
    print(f"retransmits       {c.get('TcpRetransSegs', 0)} segments, "
          f"{c.get('TcpExtTCPSynRetrans', 0)} SYNs")
    conntrack = read(os.path.join(out, "conntrack-count.txt")).strip()
    print(f"conntrack         {conntrack or 'not loaded in the namespace'} entries "
          "(no rule asks for tracking here; nf_conntrack_max would bound it)")


if __name__ == "__main__":
    main()
