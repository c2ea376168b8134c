#!/usr/bin/env python3
"""Summarize a scripts/compare.sh results folder as Markdown tables.

usage: scripts/summarize.py RESULTS_DIR
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def kib(n):
    return f"{n // 1024} KiB"


def fig(v, digits=2):
    """A figure, or a dash for one that could not be measured (null in the JSON)."""
    return "-" if v is None else f"{v:.{digits}f}"


def main(d):
    servers = [l.split("=", 1)[0] for l in open(os.path.join(d, "servers.txt")).read().split("\n") if l]
    print("# echo-flood comparison\n")
    print("```")
    print(open(os.path.join(d, "machine.txt")).read().rstrip())
    print("```\n")

    sweep = load(os.path.join(d, "sweep.json")) or []
    # sweep.json is {"meta": ..., "points": [...]}; older flood-clients wrote the bare list.
    points = sweep.get("points", []) if isinstance(sweep, dict) else sweep
    payloads = sorted({p["bytes"] for p in points})
    for b in payloads:
        ran = [p for p in points if p["bytes"] == b and p.get("min_s")]
        counts = sorted({p["connections"] for p in ran})
        # The large counts are where servers differ; smaller ones are in sweep.csv and the chart.
        for c in [c for c in counts if c >= 4096] or counts[-1:]:
            rows = [p for p in ran if p["connections"] == c]
            if not rows:
                continue
            best = min(p["min_s"] for p in rows)
            print(f"## {c} connections x {kib(b)} (time to echo and verify every byte)\n")
            print("| server | min s | median s | max s | ratio to fastest | MB/s (median) | server CPU s/GiB | client CPU s/GiB |")
            print("|---|---|---|---|---|---|---|---|")
            for p in sorted(rows, key=lambda p: p["min_s"]):
                print(f"| {p['server']} | {p['min_s']:.3f} | {p['median_s']:.3f} | {p['max_s']:.3f} | "
                      f"{p['min_s'] / best:.2f} | {p['median_mb_s']:.0f} | "
                      f"{fig(p['server_cpu_s_per_gib'])} | {fig(p['client_cpu_s_per_gib'])} |")
            missing = [p for p in points if p["bytes"] == b and p["connections"] == c and not p.get("min_s")]
            for p in missing:
                why = p.get("skipped") or f"every run failed ({sum(r['failed_connections'] for r in p['runs'])} connections failed)"
                print(f"\n- {p['server']} at {c}: {why}")
            print()

    print("A dash is a figure that could not be measured. report.html has these tables with the charts.\n")
    print("## Saturation and client delay\n")
    print("| server | verified MB/s | cs/s | intr/s | us % | sy % | id % | server CPU % | server RSS MiB | probes ok | delay p50 ms | delay p99 ms | delay max ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in servers:
        r = load(os.path.join(d, f"saturate-{s}.json"))
        if not r:
            print(f"| {s} | (no result) |||||||||||| ")
            continue
        sysr = r.get("system") or {}
        pr = r.get("probe") or {}
        lat = pr.get("latency") or {}
        rss = (sysr.get("server_rss_bytes") or 0) / 2**20
        ms = lambda k: f"{lat.get(k, 0) / 1000:.1f}" if pr.get("ok") else "-"
        print(f"| {s} | {r['flood']['throughput_mb_s']:.0f} | {sysr.get('cs_per_s', 0):.0f} | {sysr.get('intr_per_s', 0):.0f} | "
              f"{sysr.get('us_pct', 0):.0f} | {sysr.get('sy_pct', 0):.0f} | {sysr.get('id_pct', 0):.0f} | "
              f"{sysr.get('server_cpu_pct') or 0:.0f} | {rss:.1f} | {pr.get('ok', 0)}/{pr.get('attempts', 0)} | "
              f"{ms('p50_us')} | {ms('p99_us')} | {ms('max_us')} |")
    print()

    print("## Memory per idle connection\n")
    print("| server | user space, cold (B/conn) | user space, warm (B/conn) | kernel slab (B/socket) |")
    print("|---|---|---|---|")
    for s in servers:
        r = load(os.path.join(d, f"idle-{s}.json"))
        if r:
            print(f"| {s} | {r['cold']['user_bytes_per_conn']:.0f} | {r['warm']['user_bytes_per_conn']:.0f} | "
                  f"{r['warm']['kernel_slab_bytes_per_socket']:.0f} |")
    print()

    knees = [(s, load(os.path.join(d, "knees", f"{s}-churn", "limit.json")),
              load(os.path.join(d, "knees", f"{s}-rate", "limit.json"))) for s in servers]
    if any(c or r for _, c, r in knees):
        print("## Knees (flood-client limit: p99 from the scheduled time <= 10 ms, no failure, "
              ">= 95% of offered achieved)\n")
        print("| server | new connections/s (32 KiB each) | messages/s at 2,000 connections |")
        print("|---|---|---|")
        knee = lambda r: "-" if not r or r.get("knee") is None else f"{r['knee']:,.0f}"
        for s, c, r in knees:
            if c or r:
                print(f"| {s} | {knee(c)} | {knee(r)} |")
        print()

    ip = load(os.path.join(d, "iperf3.json"))
    received = ((ip or {}).get("end") or {}).get("sum_received")
    if received:
        bps = received["bits_per_second"]
        print(f"## Ceiling\n\niperf3, one stream over loopback, pinned: {bps / 8e6:.0f} MB/s one direction.\n")
    elif ip:
        print(f"## Ceiling\n\niperf3 failed: {ip.get('error', 'no result')}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
