#!/usr/bin/env bash
# Issue 26, target 6: what a churn connection and a scheduled message cost flood-client
# against what they cost the cheapest client that does the same job (bench/c-churn.c,
# bench/c-paced.c: one thread, plain writes, memcmp, arrivals from a timer, nothing else; and
# bench/c-churn-uring.c, c-paced-uring.c, the same jobs on io_uring, when liburing is there),
# each beside what the same load costs echo-server. Alternated run by run ROUNDS times, in
# each placement of the kernel's receive work (bench/lib.sh): a fresh echo-server (epoll) on
# CPU 0 per run, the client on CPU 1, for DURATION seconds.
#
#   bench/client-floor.sh [ROUNDS]
#       (env: PLACEMENTS="two-hosts loopback" WORKLOADS="churn@4000 msg64@40000" DURATION=4)
#
# churn@R: R fresh connections a second, 32 KiB echoed each; msgS@R: 2,000 connections, R
# messages of S bytes a second in all (S at most 4096). Prints each run (µs of CPU per
# connection or message: server, client, client / server), then per placement, workload and
# client the medians and the median of the per-run ratios. Every placement but loopback needs
# root. Needs gcc and a release build. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

case ${1:-} in -h|--help) usage_of bench/client-floor.sh 0 ;; esac
[[ -z ${1:-} || $1 =~ ^[1-9][0-9]*$ ]] || usage_of bench/client-floor.sh 2 9,10
rounds=${1:-5}
duration=${DURATION:-4}
read -r -a chosen <<< "${PLACEMENTS:-two-hosts loopback}"
read -r -a loads <<< "${WORKLOADS:-churn@4000 msg64@40000}"
[[ $duration =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    { echo "client-floor.sh: DURATION is seconds, a number (e.g. DURATION=4)" >&2; exit 2; }
for load in "${loads[@]}"; do
    [[ $load =~ ^(churn@[1-9][0-9]*|msg[1-9][0-9]*@[1-9][0-9]*)$ ]] ||
        { echo "client-floor.sh: workload '$load' is not churn@RATE or msgSIZE@RATE" >&2; exit 2; }
done
need_release
check_placements "${chosen[@]}"
command -v gcc >/dev/null || { echo "client-floor.sh: needs gcc for bench/c-churn.c and c-paced.c (apt-get install gcc)" >&2; exit 2; }
mkdir -p target/bench
gcc -O2 -Wall -Wextra -o target/bench/c-churn bench/c-churn.c
gcc -O2 -Wall -Wextra -o target/bench/c-paced bench/c-paced.c
# The io_uring floor needs liburing (scripts/install-peers.sh installs it): without it, skipped.
uring_churn=() uring_paced=()
if gcc -O2 -Wall -Wextra -o target/bench/c-churn-uring bench/c-churn-uring.c -luring 2>/dev/null &&
    gcc -O2 -Wall -Wextra -o target/bench/c-paced-uring bench/c-paced-uring.c -luring 2>/dev/null; then
    uring_churn=(c-churn-uring) uring_paced=(c-paced-uring)
else
    echo "client-floor.sh: bench/c-churn-uring.c or c-paced-uring.c did not build (needs liburing-dev): the io_uring floors are skipped" >&2
fi
out=$(mktemp)
trap 'stop_server; rm -f "$out" "$out.err" "$out.client"; placement_cleanup' EXIT
trap 'exit 130' INT TERM

# The clients compared for a workload.
clients_of() {
    case $1 in
        churn@*) printf '%s\n' "c-churn" "${uring_churn[@]}" "flood-client" "flood-client --send write" ;;
        msg*) printf '%s\n' "c-paced" "${uring_paced[@]}" "flood-client" ;;
    esac
}

# Runs client $1 with workload $2 against $addr at the client's end; its JSON on stdout.
run_client() {
    local c=$1 load=$2 rate=${2#*@} size
    size=${load%@*}; size=${size#msg}
    case $c/$load in
        c-churn*/churn@*) "${cli_in[@]}" taskset -c 1 "target/bench/$c" "${addr%:*}" "${addr##*:}" "$rate" "$duration" ;;
        c-paced*/msg*) "${cli_in[@]}" taskset -c 1 "target/bench/$c" "${addr%:*}" "${addr##*:}" 2000 "$rate" "$duration" "$size" ;;
        flood-client*/churn@*)
            # shellcheck disable=SC2086 # the client's extra flags, split on purpose.
            "${cli_in[@]}" taskset -c 1 "$bin"/flood-client "$addr" --churn --connect-rate "$rate" \
                --duration "${duration}s" -b 32KiB -c 512 ${c#flood-client} --json ;;
        flood-client*/msg*)
            # shellcheck disable=SC2086 # the client's extra flags, split on purpose.
            "${cli_in[@]}" taskset -c 1 "$bin"/flood-client "$addr" -c 2000 --rate "$rate" \
                --duration "${duration}s" --chunk "$size" ${c#flood-client} --json ;;
    esac
}

declare -A srv cli ratio
printf '%-5s %-10s %-12s %-26s %10s %10s %8s %12s\n' round placement workload client server client ratio ok/failed
for round in $(seq "$rounds"); do
    for placement in "${chosen[@]}"; do
        placement_cleanup
        placement_setup "$placement" || exit $?
        for load in "${loads[@]}"; do
            mapfile -t clients < <(clients_of "$load")
            if ((round % 2 == 0)); then mapfile -t clients < <(printf '%s\n' "${clients[@]}" | tac); fi
            for c in "${clients[@]}"; do
                start_server echo-server "$bin/echo-server --listen {host}:0" "$out"
                t0=$(proc_ticks "$server")
                report=$(run_client "$c" "$load" 2>"$out.client") || true
                t1=$(proc_ticks "$server")
                stop_server
                read -r s k r okf < <(python3 -c 'import json,sys
t0, t1, load = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
try:
    r = json.loads(sys.argv[4])
except ValueError:
    print("- - - no-report"); sys.exit()
if "cpu_s" in r:  # a C client: every operation verified, or it exited 1 and said why
    ops = r.get("connections_ok", r.get("messages", 0))
    failed = r.get("connections_failed", 0)
    client = r["cpu_s"]
else:
    ops = r["connections_ok"] if load.startswith("churn") else r["chunks_verified"]
    failed = r["connections_failed"]
    client = r["client_cpu_s"]
ops_ = max(ops, 1)
server = (t1 - t0) / 100.0 * 1e6 / ops_
client = client * 1e6 / ops_
print("%.1f %.1f %.3f %d/%d" % (server, client, client / server if server else float("nan"), ops, failed))' \
                    "$t0" "$t1" "$load" "$report")
                [[ $okf == no-report ]] && last_words "$c $load gave no report" "$out.client"
                key="$placement/$load/$c"
                srv[$key]+="$s " cli[$key]+="$k " ratio[$key]+="$r "
                printf '%-5s %-10s %-12s %-26s %10s %10s %8s %12s\n' "$round" "$placement" "$load" "$c" "$s" "$k" "$r" "$okf"
            done
        done
    done
done
echo
echo "# medians: µs of CPU per churn connection (32 KiB each) or per message, ${duration} s runs; ratio: client / server, median of runs"
printf '%-10s %-12s %-26s %10s %10s %8s\n' placement workload client server client ratio
for placement in "${chosen[@]}"; do
    for load in "${loads[@]}"; do
        while read -r c; do
            key="$placement/$load/$c"
            printf '%-10s %-12s %-26s %10s %10s %8s\n' "$placement" "$load" "$c" "$(echo "${srv[$key]}" | median)" \
                "$(echo "${cli[$key]}" | median)" "$(echo "${ratio[$key]}" | median)"
        done < <(clients_of "$load")
    done
done
