#!/usr/bin/env bash
# Issue 26, target 6: what a churn connection costs flood-client against what it costs the
# cheapest client that does the same job (bench/c-churn.c: one thread, one write, memcmp,
# nothing else), each beside what the same connections cost echo-server. Alternated run by
# run ROUNDS times, in each placement of the kernel's receive work (bench/lib.sh): a fresh
# echo-server (epoll) on CPU 0 per run, the client on CPU 1, arrivals at RATE a second for
# DURATION, 32 KiB echoed per connection.
#
#   bench/churn-floor.sh [ROUNDS]      (env: PLACEMENTS="two-hosts loopback" RATE=4000 DURATION=4)
#
# Prints each run (µs of CPU per connection: server, client, client / server), then per
# placement and client the medians and the median of the per-run ratios. Every placement but
# loopback needs root. Needs gcc and a release build. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

case ${1:-} in -h|--help) usage_of bench/churn-floor.sh 0 ;; esac
[[ -z ${1:-} || $1 =~ ^[1-9][0-9]*$ ]] || usage_of bench/churn-floor.sh 2 9,9
rounds=${1:-5}
rate=${RATE:-4000}
duration=${DURATION:-4}
read -r -a chosen <<< "${PLACEMENTS:-two-hosts loopback}"
[[ $rate =~ ^[1-9][0-9]*$ && $duration =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    { echo "churn-floor.sh: RATE must be a whole number a second and DURATION seconds (e.g. RATE=4000 DURATION=4)" >&2; exit 2; }
need_release
check_placements "${chosen[@]}"
command -v gcc >/dev/null || { echo "churn-floor.sh: needs gcc for bench/c-churn.c (apt-get install gcc)" >&2; exit 2; }
mkdir -p target/bench
gcc -O2 -Wall -Wextra -o target/bench/c-churn bench/c-churn.c
out=$(mktemp)
trap 'stop_server; rm -f "$out" "$out.client"; placement_cleanup' EXIT
trap 'exit 130' INT TERM

# The process's CPU so far, in clock ticks (user + system, all its threads).
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

clients=("c-churn" "flood-client" "flood-client --send write")
declare -A srv cli ratio
printf '%-5s %-10s %-26s %10s %10s %8s %12s\n' round placement client server client ratio ok/failed
for round in $(seq "$rounds"); do
    for placement in "${chosen[@]}"; do
        placement_cleanup
        placement_setup "$placement" || exit $?
        order=("${!clients[@]}")
        if ((round % 2 == 0)); then mapfile -t order < <(printf '%s\n' "${order[@]}" | tac); fi
        for i in "${order[@]}"; do
            c=${clients[$i]}
            start_server echo-server "$bin/echo-server --listen {host}:0" "$out"
            t0=$(proc_ticks "$server")
            case $c in
                c-churn)
                    report=$("${cli_in[@]}" taskset -c 1 target/bench/c-churn "${addr%:*}" "${addr##*:}" \
                        "$rate" "$duration" 2>"$out.client") || true ;;
                *)
                    # shellcheck disable=SC2086 # the client's flags, split on purpose.
                    report=$("${cli_in[@]}" taskset -c 1 "$bin"/${c%% *} "$addr" --churn --connect-rate "$rate" \
                        --duration "${duration}s" -b 32KiB -c 512 ${c#flood-client} --json 2>"$out.client") || true ;;
            esac
            t1=$(proc_ticks "$server")
            stop_server
            read -r s k r okf < <(python3 -c 'import json,sys
t0, t1 = int(sys.argv[1]), int(sys.argv[2])
try:
    r = json.loads(sys.argv[3])
except ValueError:
    print("- - - no-report"); sys.exit()
ok = max(r["connections_ok"], 1)
server = (t1 - t0) / 100.0 * 1e6 / ok
client = r.get("cpu_s", r.get("client_cpu_s")) * 1e6 / ok
print("%.1f %.1f %.3f %d/%d" % (server, client, client / server if server else float("nan"),
      r["connections_ok"], r["connections_failed"]))' "$t0" "$t1" "$report")
            [[ $okf == no-report ]] && { echo "churn-floor.sh: $c gave no report:" >&2; tail -n 5 "$out.client" >&2; }
            key="$placement/$c"
            srv[$key]+="$s " cli[$key]+="$k " ratio[$key]+="$r "
            printf '%-5s %-10s %-26s %10s %10s %8s %12s\n' "$round" "$placement" "$c" "$s" "$k" "$r" "$okf"
        done
    done
done
echo
echo "# medians: µs of CPU per churn connection ($rate/s, ${duration} s, 32 KiB each); ratio: client / server, median of runs"
printf '%-10s %-26s %10s %10s %8s\n' placement client server client ratio
for placement in "${chosen[@]}"; do
    for c in "${clients[@]}"; do
        key="$placement/$c"
        printf '%-10s %-26s %10s %10s %8s\n' "$placement" "$c" "$(echo "${srv[$key]}" | median)" \
            "$(echo "${cli[$key]}" | median)" "$(echo "${ratio[$key]}" | median)"
    done
done
