#!/usr/bin/env bash
# Issue #6 target 3 in one run: iperf3's single-stream loopback throughput beside
# flood-client --window 8 at 1,000 x 512 KiB, alternating, ROUNDS times. Server on CPU 0,
# client on CPU 1. Prints one line per measurement and the ratio of medians.
#
#   bench/vs-iperf3.sh [ROUNDS]          (env: CONNS=1000 BYTES=512KiB WINDOW=8)
#
# Needs iperf3, ss (iproute2) and a release build (cargo build --release). Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
conns=${CONNS:-1000}
bytes=${BYTES:-512KiB}
window=${WINDOW:-8}
# shellcheck source=bench/lib.sh
source bench/lib.sh
need_release
command -v iperf3 >/dev/null || { echo "vs-iperf3: iperf3 is not installed (apt-get install iperf3)" >&2; exit 2; }

iperf() {
    taskset -c 0 iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
    local server=$!
    local tries=0
    until [[ -n $(ss -Hltn "sport = :5299") ]]; do # iperf3 -s prints no readiness line
        tries=$((tries + 1))
        ((tries < 100)) || { kill "$server" 2>/dev/null; echo "vs-iperf3: iperf3 server did not start" >&2; exit 1; }
        sleep 0.05
    done
    taskset -c 1 iperf3 -c 127.0.0.1 -p 5299 -t 3 -J "$@" > /tmp/vs-iperf3.json
    wait "$server" || true
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit("vs-iperf3: " + d["error"]) if "error" in d else print("%.0f" % (d["end"]["sum_received"]["bits_per_second"] / 8e6))' /tmp/vs-iperf3.json
}

flood() { # $1 = extra echo-server flags, $2 = --send mode
    $bin/flood-client --server-cmd "e=$bin/echo-server --listen 127.0.0.1:0 $1" --pin \
        -c "$conns" -b "$bytes" --window "$window" --send "$2" --json 2>/dev/null | flood_figures
}

declare -A all
cases=("iperf3" "iperf3 -Z" "server rw, client write" "server rw, client splice" "server splice, client write" "server splice, client splice")
for ((r = 1; r <= rounds; r++)); do
    for c in "${cases[@]}"; do
        case $c in
            "iperf3") line=$(iperf) ;;
            "iperf3 -Z") line=$(iperf -Z) ;;
            "server rw, client write") line=$(flood --read-write write) ;;
            "server rw, client splice") line=$(flood --read-write splice) ;;
            "server splice, client write") line=$(flood --splice write) ;;
            "server splice, client splice") line=$(flood --splice splice) ;;
        esac
        all[$c]+="${line%% *} "
        printf 'round %d  %-30s %s\n' "$r" "$c" "$line"
    done
done
echo "# MB/s = one direction; flood lines add client and server CPU s/GiB"
base=$(echo "${all[iperf3]}" | median)
for c in "${cases[@]}"; do
    m=$(echo "${all[$c]}" | median)
    printf 'median %-30s %6.0f MB/s  %5.1f%% of iperf3\n' "$c" "$m" "$(echo "$m $base" | awk '{print 100*$1/$2}')"
done
