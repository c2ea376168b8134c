#!/usr/bin/env bash
# Where a window-8 run's packets go, per connection: captures the TCP headers on lo during
# one flood-client --spawn-server run and counts, for each direction, data segments (full
# size, partial, runts under 1 KiB), retransmissions (tail loss probes, on loopback), pure
# ACKs (and those carrying SACK blocks: answers to duplicates), SYN and FIN. Run at 512 KiB
# and at 4 MiB per connection by default: the difference is what each connection costs.
# Packets cost CPU on loopback whatever their size (the sender's core runs the receiver's
# protocol work too), so this is the anatomy behind the window-8 gap to iperf3.
#
#   bench/packets.sh [BYTES ...]      (env: CONNS=1000 WINDOW=8)
#
# Needs tcpdump (root), python3 and a release build. The capture slows the run, so it
# prints packet counts, not speed. Never fails on figures; warns when tcpdump dropped any.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${CONNS:-1000}
window=${WINDOW:-8}
sizes=("$@")
((${#sizes[@]})) || sizes=(512KiB 4MiB)
# shellcheck source=bench/lib.sh
source bench/lib.sh
case ${1:-} in -h|--help) usage_of "$0" 0 ;; esac
need_release
command -v tcpdump >/dev/null || { echo "packets: tcpdump is not installed (apt-get install tcpdump)" >&2; exit 2; }
work=$(mktemp -d)
dump=
cleanup() {
    [[ -n $dump ]] && kill "$dump" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

for bytes in "${sizes[@]}"; do
    # Headers only, each written as it comes; a large buffer so a burst is not dropped.
    tcpdump -i lo -nn -U --immediate-mode -s 128 -B 262144 -w "$work/run.pcap" tcp 2>"$work/tcpdump.err" &
    dump=$!
    wait_for grep -q 'listening on' "$work/tcpdump.err" ||
        { echo "packets: tcpdump did not start: $(cat "$work/tcpdump.err")" >&2; exit 1; }
    "$bin"/flood-client --pin -c "$conns" -b "$bytes" --window "$window" --spawn-server --json \
        > "$work/report.json" 2> "$work/client.err" ||
        { echo "packets: flood-client failed: $(cat "$work/client.err")" >&2; exit 1; }
    # tcpdump may still be reading the run's last packets: stop once the file stops growing.
    size=-1
    for ((i = 0; i < 50; i++)); do
        now=$(stat -c %s "$work/run.pcap")
        ((now == size)) && break
        size=$now
        sleep 0.2
    done
    kill -INT "$dump"
    wait "$dump" || true
    dump=
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$work/tcpdump.err")
    echo "# $conns x $bytes, window $window ($(date -u +%H:%M) UTC)"
    python3 - "$work/run.pcap" "$work/report.json" "${dropped:-0}" <<'EOF'
import json, struct, sys
from collections import Counter

pcap, report_path, dropped = sys.argv[1], sys.argv[2], int(sys.argv[3])
report = json.load(open(report_path))
if report["connections_failed"]:
    sys.exit("packets: flood-client run failed: %s" % report["errors"])
port = int(report["target"].rsplit(":", 1)[1])
conns = report["connections_ok"]

data = open(pcap, "rb").read()
if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
    sys.exit("packets: expected a little-endian microsecond pcap")
counts = {"client -> server": Counter(), "server -> client": Counter()}
highest = {}  # flow -> highest sequence number sent, to spot retransmissions
longest = Counter()
records, at = [], 24
while at + 16 <= len(data):
    caplen = struct.unpack("<I", data[at + 8:at + 12])[0]
    frame = data[at + 16:at + 16 + caplen]
    at += 16 + caplen
    if len(frame) < 54 or frame[12:14] != b"\x08\x00":
        continue  # IPv4 over the loopback's Ethernet framing only
    ip = frame[14:]
    ihl, total = (ip[0] & 15) * 4, struct.unpack(">H", ip[2:4])[0]
    tcp = ip[ihl:]
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    doff, flags = (tcp[12] >> 4) * 4, tcp[13]
    if port not in (sport, dport):
        continue
    direction = "client -> server" if dport == port else "server -> client"
    payload = total - ihl - doff
    options = tcp[20:doff]
    records.append((direction, (sport, dport), seq, payload, flags, options))
    longest[direction] = max(longest[direction], payload)

def has_sack(options):
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            return False
        if kind == 1:
            i += 1
            continue
        if kind == 5:
            return True
        if i + 1 >= len(options) or options[i + 1] < 2:
            return False
        i += options[i + 1]
    return False

for direction, flow, seq, payload, flags, options in records:
    c = counts[direction]
    c["packets"] += 1
    if flags & 0x02:
        c["SYN"] += 1
        highest[flow] = seq + 1
    if flags & 0x01:
        c["FIN"] += 1
    if payload:
        end = seq + payload
        top = highest.get(flow, seq)
        if (end - top) & 0x80000000 or end == top:
            c["retransmitted"] += 1
        else:
            highest[flow] = end
            c["data"] += 1
            if payload == longest[direction]:
                c["data, full size"] += 1
            elif payload < 1024:
                c["data, runt < 1 KiB"] += 1
    elif not flags & 0x03:
        c["pure ACK"] += 1
        if has_sack(options):
            c["pure ACK with SACK"] += 1

rows = ["packets", "data", "data, full size", "data, runt < 1 KiB", "retransmitted",
        "pure ACK", "pure ACK with SACK", "SYN", "FIN"]
print("%-22s %18s %18s" % ("per connection", *counts))
for row in rows:
    print("%-22s %18.2f %18.2f" % (row, *(counts[d][row] / conns for d in counts)))
print("%-22s %18d %18d" % ("full size (bytes)", *(longest[d] for d in counts)))
if dropped:
    print("# tcpdump dropped %d packets: the counts above are short" % dropped)
EOF
done
