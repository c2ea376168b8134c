#!/usr/bin/env python3
"""Memory per idle connection of a running echo server.

Opens N idle TCP connections to ADDR, waits until the server process PID holds them all
(its descriptor count), and prints the growth of the server's resident memory (user space)
and of kernel slab memory (/proc/meminfo; system-wide, so both loopback ends and the
sockets of this script count: halved per socket, roughly), each divided by N.

Two waves: the first ("cold") on a server that never held N connections includes growing
its connection table; the second ("warm"), after the first closed, is what a long-running
server pays per extra idle connection.

usage: scripts/idle-memory.py --pid PID --addr 127.0.0.1:12345 [-n 10000] [--json]
"""
import argparse
import json
import os
import resource
import socket
import sys
import time


FD_SLACK = 32


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for pid {pid}")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def slab_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_for(cond, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    pause = 0.001
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def wave(host, port, n):
    conns = []
    for _ in range(n):
        s = socket.create_connection((host, port))
        conns.append(s)
    return conns


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.n < 1:
        ap.error(f"-n must be at least 1 connection, not {args.n}")
    host, sep, port = args.addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        ap.error(f"--addr wants HOST:PORT (the server's `listening on` address), not {args.addr!r}")
    host, port = host.strip("[]"), int(port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if args.n + 64 > hard:
        raise SystemExit(
            f"{args.n} connections need more than this process's hard open-file limit {hard}: "
            f"lower -n to {max(hard - 64, 1)} or raise the limit (scripts/raise-limits.sh)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    base_fds = fds(args.pid)
    result = {"connections": args.n}
    for name in ("cold", "warm"):
        rss0, slab0 = rss(args.pid), slab_bytes()
        conns = wave(host, port, args.n)
        wait_for(lambda: fds(args.pid) >= base_fds + args.n, f"{name} wave accepted")
        rss1, slab1 = rss(args.pid), slab_bytes()
        result[name] = {
            "server_rss_before": rss0,
            "server_rss_after": rss1,
            "user_bytes_per_conn": (rss1 - rss0) / args.n,
            "kernel_slab_bytes_per_socket": (slab1 - slab0) / args.n / 2,
        }
        for s in conns:
            s.close()
        # Servers open some descriptors lazily (pollers, splice pipes): allow a few.
        wait_for(lambda: fds(args.pid) <= base_fds + FD_SLACK, f"{name} wave closed")
    if args.json:
        print(json.dumps(result))
        return
    for name in ("cold", "warm"):
        r = result[name]
        print(f"{name}: {args.n} idle connections: server RSS {r['server_rss_before']} -> "
              f"{r['server_rss_after']} bytes = {r['user_bytes_per_conn']:.1f} B/connection "
              f"(user space); kernel slab ~{r['kernel_slab_bytes_per_socket']:.0f} B/socket")


if __name__ == "__main__":
    sys.exit(main())
