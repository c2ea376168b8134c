#!/usr/bin/env bash
# Issue #6 target 3 in one run: iperf3's single-stream loopback throughput beside
# flood-client --window 8 at 1,000 x 512 KiB, alternating, ROUNDS times. Server on CPU 0,
# client on CPU 1. Prints one line per measurement, the medians, and each round's ratio of
# the pair to the mean of the iperf3 runs just before and just after it (one more iperf3
# closes the last round): this box's speed drifts by half within a minute, so only a ratio
# taken seconds apart means anything.
#
#   bench/vs-iperf3.sh [ROUNDS]          (env: CONNS=1000 BYTES=512KiB WINDOW=8)
#
# Cases: the pair as shipped (--spawn-server: splice both ways, receive buffers sized to the
# window at both ends) and the same with the kernel's buffers (--rcvbuf 0, the default
# before); iperf3 -Z (sendfile) for the ceiling with a zero-copy sender.
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
case ${1:-} in -h|--help) usage_of "$0" 0 ;; esac
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage_of "$0" 2 9,9
need_release
command -v iperf3 >/dev/null || { echo "vs-iperf3: iperf3 is not installed (apt-get install iperf3)" >&2; exit 2; }
json=$(mktemp)
trap 'rm -f "$json" "$json.server"' EXIT

iperf_listening() {
    [[ -n $(ss -Hltn "sport = :5299") ]]
}

iperf() {
    taskset -c 0 iperf3 -s -1 -p 5299 > "$json.server" 2>&1 &
    local server=$!
    # iperf3 -s prints no readiness line: wait for its listening socket.
    wait_for iperf_listening ||
        { kill "$server" 2>/dev/null; last_words "the iperf3 server did not start" "$json.server"; exit 1; }
    taskset -c 1 iperf3 -c 127.0.0.1 -p 5299 -t 3 -J "$@" > "$json"
    # A client that never connected leaves the one-client server waiting for ever.
    kill "$server" 2>/dev/null || true
    wait "$server" || true
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit("vs-iperf3: " + d["error"]) if "error" in d else print("%.0f" % (d["end"]["sum_received"]["bits_per_second"] / 8e6))' "$json"
}

flood() { # flood-client flags choosing the server and the buffers
    flood_run "$bin"/flood-client --pin -c "$conns" -b "$bytes" --window "$window" --json "$@"
}

declare -A all
cases=("iperf3" "pair as shipped" "pair, kernel buffers" "iperf3 -Z")
for ((r = 1; r <= rounds; r++)); do
    for c in "${cases[@]}"; do
        case $c in
            "iperf3") line=$(iperf) ;;
            "iperf3 -Z") line=$(iperf -Z) ;;
            "pair as shipped") line=$(flood --spawn-server) ;;
            "pair, kernel buffers") line=$(flood --spawn-server --rcvbuf 0) ;;
        esac
        all[$c]+="${line%% *} "
        printf 'round %d  %-22s %s\n' "$r" "$c" "$line"
    done
done
last=$(iperf)
printf 'close    %-22s %s\n' "iperf3" "$last"
echo "# MB/s = one direction; flood lines add client and server CPU s/GiB"
base=$(echo "${all[iperf3]}" | median)
for c in "${cases[@]}"; do
    m=$(echo "${all[$c]}" | median)
    printf 'median %-22s %6.0f MB/s  %5.1f%% of iperf3\n' "$c" "$m" "$(echo "$m $base" | awk '{print 100*$1/$2}')"
done
# Each round's pair against the iperf3 runs bracketing it.
read -ra before <<< "${all[iperf3]}"
after=("${before[@]:1}" "$last")
for name in "pair as shipped" "pair, kernel buffers"; do
    read -ra pair <<< "${all[$name]}"
    ratios=""
    for ((i = 0; i < ${#pair[@]}; i++)); do
        ratios+="$(awk -v p="${pair[i]}" -v a="${before[i]}" -v b="${after[i]}" 'BEGIN {printf "%.1f", 200 * p / (a + b)}') "
    done
    printf '%-22s / bracketing iperf3 per round: %s-> median %.1f%%\n' "$name" "$(for x in $ratios; do printf '%.0f%% ' "$x"; done)" "$(echo "$ratios" | median)"
done
