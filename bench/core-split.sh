#!/usr/bin/env bash
# Where each core's time goes at a fixed new-connection rate: for each placement of the
# kernel's receive work (bench/lib.sh) and each server, alternated ROUNDS times, a churn
# run (connect, echo 32 KiB, close) at RATE for DURATION, server on CPU 0 and client on
# CPU 1, and how busy each core was (/proc/stat: every task and interrupt), with the run's
# failures and p99 from the scheduled connect. It says whose core a churn knee is.
#
#   bench/core-split.sh RATE ROUNDS NAME=CMD NAME=CMD...
#       (env: PLACEMENTS="loopback server-core two-hosts" DURATION=4s)
#
# CMD listens on {host}, port 0, and prints `listening on ADDR` on its first stdout line, as
# for bench/accept-knee.sh. Prints each run, then the median busy share of each core per
# placement and server. Every placement but loopback needs root. Needs a release build.
# Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

usage() { usage_of bench/core-split.sh "${1:-2}" 8,9; }
case ${1:-} in -h|--help) usage 0 ;; esac
[[ $# -ge 3 && ${1:-} =~ ^[1-9][0-9]*$ && ${2:-} =~ ^[1-9][0-9]*$ ]] || usage 2
rate=$1 rounds=$2; shift 2
need_release
duration=${DURATION:-4s}
read -r -a chosen <<< "${PLACEMENTS:-$placements}"
servers_of "$@"
check_placements "${chosen[@]}"
out=$(mktemp)
server=""
trap 'stop_server; rm -f "$out" "$out.err" "$out.client"; placement_cleanup' EXIT
trap 'exit 130' INT TERM

declare -A busy0 busy1
printf '%-6s %-12s %-14s %8s %8s %9s %8s\n' round placement server "CPU 0 %" "CPU 1 %" ok/failed "p99 ms"
for round in $(seq "$rounds"); do
    for placement in "${chosen[@]}"; do
        placement_cleanup
        placement_setup "$placement" || exit $?
        for i in "${!names[@]}"; do
            start_server "${names[$i]}" "${cmds[$i]}" "$out"
            ticks=("$(cpu_busy_ticks 0)" "$(cpu_all_ticks 0)" "$(cpu_busy_ticks 1)" "$(cpu_all_ticks 1)")
            report=$("${cli_in[@]}" taskset -c 1 "$bin/flood-client" "$addr" --churn \
                --connect-rate "$rate" --duration "$duration" -b 32KiB -c 512 --json 2> "$out.client") || true
            ticks+=("$(cpu_busy_ticks 0)" "$(cpu_all_ticks 0)" "$(cpu_busy_ticks 1)" "$(cpu_all_ticks 1)")
            stop_server
            read -r share0 share1 outcome p99 < <(python3 -c 'import json,sys
t = list(map(int, sys.argv[1:9]))
share = lambda b0, a0, b1, a1: 100 * (b1 - b0) / max(a1 - a0, 1)
try:
    r = json.loads(sys.argv[9])
    outcome = "%d/%d" % (r["connections_ok"], r["connections_failed"])
    p99_us = r["corrected"]["p99_us"]
    p99 = "-" if p99_us is None else "%.1f" % (p99_us / 1000)
except (ValueError, KeyError):
    outcome, p99 = "no-report", "-"
print("%.0f %.0f %s %s" % (share(t[0], t[1], t[4], t[5]), share(t[2], t[3], t[6], t[7]), outcome, p99))' \
                "${ticks[@]}" "$report")
            if [[ $outcome == no-report ]]; then
                last_words "${names[$i]} in $placement: flood-client gave no report" "$out.client"
            fi
            busy0[$placement/${names[$i]}]+="$share0 "
            busy1[$placement/${names[$i]}]+="$share1 "
            printf '%-6s %-12s %-14s %8s %8s %9s %8s\n' "$round" "$placement" "${names[$i]}" \
                "$share0" "$share1" "$outcome" "$p99"
        done
    done
done
echo "median busy share at $rate connections/s (CPU 0: server, CPU 1: client):"
for placement in "${chosen[@]}"; do
    for name in "${names[@]}"; do
        printf '  %-12s %-14s CPU 0 %4s%%  CPU 1 %4s%%\n' "$placement" "$name" \
            "$(echo "${busy0[$placement/$name]}" | median)" "$(echo "${busy1[$placement/$name]}" | median)"
    done
done
