#!/usr/bin/env bash
# Issue 17 target 3: server CPU per GiB echoed under a client that does not wait for its
# echo (bench/c-flood.c with the window set to the whole transfer, as tcpkali or an
# iperf3-style sender streams), for two or more servers started fresh each round and
# alternated, ROUNDS times. Server on CPU 0, client on CPU 1.
#
#   bench/free-stream.sh ROUNDS NAME=CMD NAME=CMD...
#       (env: CONNS=1000 BYTES=524288 CHUNK=32768 REPEAT=3: c-flood runs per server start,
#        so the CPU, read in 10 ms ticks, covers enough of them; PLACEMENT=loopback)
#
# CMD must print `listening on ADDR` on its first stdout line (echo-server --listen
# 127.0.0.1:0 does; so do the peers of scripts/install-peers.sh, given port 0); {host} in
# CMD becomes the address the placement's server listens on. PLACEMENT (bench/lib.sh:
# loopback, server-core, two-hosts) says where the kernel's receive work runs: on loopback
# a server's reads release its client's queued sends in the server's own context, so the
# server process pays for part of its client. Two figures per run: the server process's CPU
# per GiB, and CPU 0's whole busy time per GiB (the process and the receive work done for
# it while it slept: the server's host). Prints each round, then per server the medians and
# their ratios to the first server's. Needs gcc and a release build; every placement but
# loopback needs root. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

usage() { usage_of bench/free-stream.sh "${1:-2}" 7,9; }
case ${1:-} in -h|--help) usage 0 ;; esac
[[ $# -ge 3 && ${1:-} =~ ^[1-9][0-9]*$ ]] || usage 2
rounds=$1; shift
conns=${CONNS:-1000}
bytes=${BYTES:-524288}
chunk=${CHUNK:-32768}
repeat=${REPEAT:-3}
window=$(( (bytes + chunk - 1) / chunk ))
placement=${PLACEMENT:-loopback}
check_placements "$placement"
mkdir -p target/bench
gcc -O2 -Wall -Wextra -o target/bench/c-flood bench/c-flood.c

servers_of "$@"

# cpu_ticks PID: user + system clock ticks of the process and all its threads.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
declare -A per_gib per_gib0
out=$(mktemp)
server=""
trap 'stop_server; rm -f "$out" "$out.err"; placement_cleanup' EXIT
trap 'exit 130' INT TERM
placement_setup "$placement" || exit $?
echo "# $placement: $(placement_describe)"
printf '%-6s %-14s %10s %10s %12s %12s %12s\n' round server "MB/s" "cpu s" "cpu s/GiB" \
    "cpu0 s/GiB" "cpu1 s/GiB"
for round in $(seq "$rounds"); do
    for i in "${!names[@]}"; do
        start_server "${names[$i]}" "${cmds[$i]}" "$out"
        before=$(cpu_ticks "$server") core0=$(cpu_busy_ticks 0) core1=$(cpu_busy_ticks 1)
        lines=()
        for _ in $(seq "$repeat"); do
            lines+=("$("${cli_in[@]}" taskset -c 1 target/bench/c-flood "${addr%:*}" "${addr##*:}" "$conns" \
                "$bytes" "$chunk" "$window" vmsplice)")
        done
        after=$(cpu_ticks "$server")
        core0=$(( $(cpu_busy_ticks 0) - core0 )) core1=$(( $(cpu_busy_ticks 1) - core1 ))
        stop_server
        read -r mbs cpu gib gib0 gib1 < <(python3 -c 'import json,sys
hz, before, after, core0, core1 = map(int, sys.argv[1:6])
runs = [json.loads(l) for l in sys.argv[6:]]
cpu = (after - before) / hz
gib = sum(r["bytes"] for r in runs) / 2**30
mbs = gib * 2**30 / sum(r["stream_s"] for r in runs) / 1e6
print("%.0f %.3f %.4f %.4f %.4f" % (mbs, cpu, cpu / gib, core0 / hz / gib, core1 / hz / gib))' \
            "$hz" "$before" "$after" "$core0" "$core1" "${lines[@]}")
        per_gib[${names[$i]}]+="$gib "
        per_gib0[${names[$i]}]+="$gib0 "
        printf '%-6s %-14s %10s %10s %12s %12s %12s\n' "$round" "${names[$i]}" "$mbs" "$cpu" \
            "$gib" "$gib0" "$gib1"
    done
done
# ratio A B: A/B to two places, or n/a when B is 0 (a run too short for a clock tick).
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("%.2f" % (a / b) if b else "n/a")' "$@"; }
first=$(echo "${per_gib[${names[0]}]}" | median)
first0=$(echo "${per_gib0[${names[0]}]}" | median)
echo "median CPU s/GiB (ratio to ${names[0]}): server process, and CPU 0 whole:"
for name in "${names[@]}"; do
    m=$(echo "${per_gib[$name]}" | median)
    m0=$(echo "${per_gib0[$name]}" | median)
    printf '  %-14s %8s  %s   %8s  %s\n' "$name" "$m" "$(ratio "$m" "$first")" "$m0" "$(ratio "$m0" "$first0")"
done
