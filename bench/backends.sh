#!/usr/bin/env bash
# CPU per operation of two or more servers at fixed loads, alternated run by run ROUNDS
# times, in each placement of the kernel's receive work (bench/lib.sh): what a churn
# connection (connect, echo 32 KiB, close), a message of a given size at a fixed rate, and
# a GiB of bulk echo cost the server process, its whole core (CPU 0: the process and the
# receive work done for it) and the client. Written for echo-server's two backends
# (epoll and --io uring), for any NAME=CMD servers.
#
#   bench/backends.sh ROUNDS NAME=CMD NAME=CMD...
#       (env: PLACEMENTS="loopback two-hosts" DURATION=4s
#             WORKLOADS="churn@4000 msg64@10000 msg64@40000 msg1k@40000 msg32k@10000 bulk")
#
# churn@R: --churn --connect-rate R for DURATION (-c 512, 32 KiB each); msgS@R: 2,000
# connections, R messages of S bytes a second for DURATION (--rate, --chunk S); bulk: 1,000 x
# 512 KiB. CMD listens on {host}, port 0, and prints `listening on ADDR` first (as for
# bench/accept-knee.sh). Server on CPU 0, client on CPU 1; CPU from /proc (10 ms ticks).
# Prints each run, then per placement and workload each server's medians and the median of
# the per-round ratios to the first server. Every placement but loopback needs root. Needs a
# release build. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

usage() { usage_of bench/backends.sh "${1:-2}" 9,11; }
case ${1:-} in -h|--help) usage 0 ;; esac
[[ $# -ge 3 && ${1:-} =~ ^[1-9][0-9]*$ ]] || usage 2
rounds=$1; shift
need_release
duration=${DURATION:-4s}
read -r -a chosen <<< "${PLACEMENTS:-loopback two-hosts}"
read -r -a loads <<< "${WORKLOADS:-churn@4000 msg64@10000 msg64@40000 msg1k@40000 msg32k@10000 bulk}"
for load in "${loads[@]}"; do
    [[ $load =~ ^(churn@[0-9]+|msg[0-9]+[kK]?@[0-9]+|bulk)$ ]] ||
        { echo "backends.sh: workload '$load' is not churn@RATE, msgSIZE@RATE or bulk" >&2; exit 2; }
done
servers_of "$@"
check_placements "${chosen[@]}"
out=$(mktemp)
server=""
trap 'stop_server; rm -f "$out" "$out.err" "$out.client"; placement_cleanup' EXIT
trap 'exit 130' INT TERM

# flood-client's flags for a workload.
flags_of() {
    case $1 in
        churn@*) echo "--churn --connect-rate ${1#churn@} --duration $duration -b 32KiB -c 512" ;;
        msg*) local size=${1%@*} rate=${1#*@}; size=${size#msg}; size=${size/k/KiB}
              echo "-c 2000 --rate $rate --duration $duration --chunk $size" ;;
        bulk) echo "-c 1000 -b 512KiB" ;;
    esac
}

declare -A srv cli core ratio
declare -a last
printf '%-5s %-10s %-13s %-14s %10s %10s %10s %9s\n' round placement workload server \
    "server" "CPU 0" "client" "ok/fail"
for round in $(seq "$rounds"); do
    for placement in "${chosen[@]}"; do
        placement_cleanup
        placement_setup "$placement" || exit $?
        for load in "${loads[@]}"; do
            order=("${!names[@]}")
            if ((round % 2 == 0)); then mapfile -t order < <(printf '%s\n' "${order[@]}" | tac); fi
            for i in "${order[@]}"; do
                start_server "${names[$i]}" "${cmds[$i]}" "$out"
                t0=("$(proc_ticks "$server")" "$(cpu_busy_ticks 0)")
                # shellcheck disable=SC2046 # the workload's flags, split on purpose.
                report=$("${cli_in[@]}" taskset -c 1 "$bin/flood-client" "$addr" $(flags_of "$load") \
                    --json 2>"$out.client") || true
                t1=("$(proc_ticks "$server")" "$(cpu_busy_ticks 0)")
                stop_server
                # Per operation: µs per connection (churn), per message (msg), s per GiB (bulk).
                read -r s c k okf < <(python3 -c 'import json,sys
t0s, t0c, t1s, t1c = map(int, sys.argv[1:5]); load = sys.argv[5]
hz = 100.0
try:
    r = json.loads(sys.argv[6])
except ValueError:
    print("- - - no-report"); sys.exit()
if load == "bulk":
    ops, unit = r["bytes_verified"] / 2**30, 1.0
elif load.startswith("churn"):
    ops, unit = r["connections_ok"], 1e6
else:
    ops, unit = r["chunks_verified"], 1e6
ops = max(ops, 1e-9)
f = lambda secs: "%.3f" % (secs * unit / ops) if unit == 1.0 else "%.1f" % (secs * unit / ops)
print(f((t1s - t0s) / hz), f((t1c - t0c) / hz), f(r["client_cpu_s"]),
      "%d/%d" % (r["connections_ok"], r["connections_failed"]))' \
                    "${t0[@]}" "${t1[@]}" "$load" "$report")
                if [[ $okf == no-report ]]; then
                    last_words "${names[$i]} $load: flood-client gave no report" "$out.client"
                fi
                key="$placement/$load/${names[$i]}"
                srv[$key]+="$s " core[$key]+="$c " cli[$key]+="$k "
                printf '%-5s %-10s %-13s %-14s %10s %10s %10s %9s\n' "$round" "$placement" "$load" \
                    "${names[$i]}" "$s" "$c" "$k" "$okf"
                last[i]=$s
            done
            for i in "${!names[@]}"; do
                ((i == 0)) && continue
                ratio["$placement/$load/${names[$i]}"]+="$(awk -v a="${last[$i]}" -v b="${last[0]}" \
                    'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }') "
            done
        done
    done
done
echo
echo "medians (churn and msg: µs per connection or message; bulk: s per GiB); ratio: server / ${names[0]}, per round"
printf '%-10s %-13s %-14s %10s %10s %10s %s\n' placement workload server server "CPU 0" client "ratio (median of rounds)"
for placement in "${chosen[@]}"; do
    for load in "${loads[@]}"; do
        for i in "${!names[@]}"; do
            key="$placement/$load/${names[$i]}"
            r="-"
            ((i > 0)) && r="$(echo "${ratio[$key]}" | median) (${ratio[$key]% })"
            printf '%-10s %-13s %-14s %10s %10s %10s %s\n' "$placement" "$load" "${names[$i]}" \
                "$(echo "${srv[$key]}" | median)" "$(echo "${core[$key]}" | median)" \
                "$(echo "${cli[$key]}" | median)" "$r"
        done
    done
done
