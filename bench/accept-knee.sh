#!/usr/bin/env bash
# Issue 17 target 2, the accept path: the highest new-connection rate (churn: connect,
# echo 32 KiB, close) with p99 <= 10 ms (P99) from the scheduled connect, no failure and at
# least 95% of offered achieved, for two or more servers alternated ROUNDS times in each
# placement of the kernel's receive work (bench/lib.sh: loopback, server-core, two-hosts).
# Server on CPU 0, client on CPU 1.
#
#   bench/accept-knee.sh ROUNDS NAME=CMD NAME=CMD...
#       (env: PLACEMENTS="loopback server-core two-hosts" STEP=3s CONNECT_RATES=2000..30000
#        P99=10ms OUT=bench-results/accept-knee)
#
# CMD listens on {host}, port 0, and prints `listening on ADDR` on its first stdout line:
#   "echo=target/release/echo-server --listen {host}:0" "go=target/peers/go-echo {host}:0"
# On loopback the client's core also runs its server's share of every handshake, so the knee
# there can be the client's; server-core puts all of it on the server's core, two-hosts
# gives each end its own. Prints each knee, then per placement and server the median knee
# and the median of its per-round ratios to the first server's. Every placement but loopback
# needs root (network namespaces). Needs a release build. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

usage() { usage_of bench/accept-knee.sh "${1:-2}" 8,10; }
case ${1:-} in -h|--help) usage 0 ;; esac
[[ $# -ge 2 && ${1:-} =~ ^[1-9][0-9]*$ ]] || usage 2
rounds=$1; shift
need_release
step=${STEP:-3s}
p99=${P99:-10ms}
rates=${CONNECT_RATES:-2000..30000}
out=${OUT:-bench-results/accept-knee}
read -r -a chosen <<< "${PLACEMENTS:-$placements}"
servers_of "$@"
check_placements "${chosen[@]}"
trap placement_cleanup EXIT
trap 'exit 130' INT TERM

declare -A knees
printf '%-6s %-12s %-14s %12s\n' round placement server "knee conn/s"
for round in $(seq "$rounds"); do
    for placement in "${chosen[@]}"; do
        placement_cleanup
        placement_setup "$placement" ||
            { echo "accept-knee.sh: could not set up $placement (see above)" >&2; exit 1; }
        [ "$round" -gt 1 ] || echo "# $placement: $(placement_describe)"
        for i in "${!names[@]}"; do
            name=${names[$i]}
            dir=$out/$placement/$round-$name
            mkdir -p "$dir"
            # The server command runs at the server's end (its namespace, if any).
            server="$name=${srv_in[*]} ${cmds[$i]//\{host\}/$srv_host}"
            # limit exits 1 also when no step held (a figure: knee null), so its JSON decides.
            report=$("${cli_in[@]}" "$bin/flood-client" limit --server-cmd "$server" --pin \
                --step "$step" --p99 "$p99" --connect-rate "$rates" -b 32KiB \
                --out "$dir" --json 2> "$dir/stderr.txt") || true
            knee=$(knee_of_report <<< "$report")
            if [ -z "$knee" ]; then
                last_words "$name in $placement: flood-client limit failed (all it said: $dir/stderr.txt)" "$dir/stderr.txt"
                exit 1
            fi
            knee=${knee%.0}
            knees[$placement/$name]+="${knee/null/0} "
            printf '%-6s %-12s %-14s %12s\n' "$round" "$placement" "$name" "${knee/null/none}"
        done
    done
done
echo "median knee, new connections/s (median per-round ratio to ${names[0]}):"
for placement in "${chosen[@]}"; do
    read -r -a first <<< "${knees[$placement/${names[0]}]}"
    for name in "${names[@]}"; do
        read -r -a these <<< "${knees[$placement/$name]}"
        ratios=""
        for r in "${!these[@]}"; do
            ratios+="$(python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(a / b if b else 0)" \
                "${these[$r]}" "${first[$r]}") "
        done
        printf '  %-12s %-14s %8s  %.2f\n' "$placement" "$name" \
            "$(echo "${knees[$placement/$name]}" | median)" "$(echo "$ratios" | median)"
    done
done
