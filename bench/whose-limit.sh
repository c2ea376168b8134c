#!/usr/bin/env bash
# Whose limit is the churn knee? `flood-client limit --connect-rate` (32 KiB each, p99 from
# the scheduled connect <= 10 ms, no failure, >= 95% of offered achieved) for each server in
# each placement, server on CPU 0 and client on CPU 1, alternating servers and placements
# round by round; prints each run's knee and verdict (bound by whom, with the evidence) and
# the median knee of each server and placement.
#
#   bench/whose-limit.sh [NAME=CMD ...]   (default: echo-server, and Go if scripts/install-peers.sh built it)
#   env: ROUNDS=3 PLACEMENTS="loopback split" CONNECT_RATES=1000..200000 STEP=5s OUT=bench-results/whose-limit
#
# A server command says {host} where its listen address goes (split starts it in a network
# namespace of its own). split needs root. A full run takes about 10 minutes and loads the
# box; do not run it beside other work. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
case ${1:-} in -h|--help) usage_of "$0" 0 ;; esac
need_release
rounds=${ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] ||
    { echo "whose-limit.sh: ROUNDS must be a positive whole number, not '$rounds'" >&2; exit 2; }
read -r -a chosen <<< "${PLACEMENTS:-loopback split}"
for p in "${chosen[@]}"; do
    case $p in
        loopback) ;;
        split) [ "$(id -u)" -eq 0 ] ||
            { echo "whose-limit.sh: split needs root (network namespaces): run as root or PLACEMENTS=loopback" >&2; exit 2; } ;;
        *) echo "whose-limit.sh: PLACEMENTS takes loopback and split (flood-client --placement), not '$p'" >&2; exit 2 ;;
    esac
done
out=${OUT:-bench-results/whose-limit}
specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
    specs=("echo-server=$bin/echo-server --listen {host}:0")
    [ -x target/peers/go-echo ] && specs+=("go=target/peers/go-echo {host}:0")
fi
servers_of "${specs[@]}"

mkdir -p "$out"
declare -A knees
printf '%-6s %-9s %-12s %9s  %s\n' round placement server knee "bound by: evidence"
for round in $(seq 1 "$rounds"); do
    for placement in "${chosen[@]}"; do
        for i in "${!names[@]}"; do
            dir="$out/$round-$placement-${names[$i]}"
            "$bin/flood-client" limit --server-cmd "${names[$i]}=${cmds[$i]}" --pin \
                --placement "$placement" --connect-rate "${CONNECT_RATES:-1000..200000}" \
                --bytes 32KiB --step "${STEP:-5s}" --out "$dir" --json > "$dir.json" 2> "$dir.err" || true
            read -r knee verdict < <(python3 -c 'import json,sys
try:
    r = json.load(open(sys.argv[1]))
    b = r.get("bound") or {}
    print(r.get("knee"), "%s: %s" % (b.get("bound_by", "-"), b.get("why", "no verdict")))
except (OSError, ValueError):
    print("None no report")' "$dir.json")
            if [[ $verdict == "no report" ]]; then
                last_words "${names[$i]} in $placement: flood-client limit gave no report" "$dir.err"
            fi
            knees[$placement/${names[$i]}]+="${knee/None/} "
            printf '%-6s %-9s %-12s %9s  %s\n' "$round" "$placement" "${names[$i]}" "$knee" "$verdict"
        done
    done
done
echo "median churn knee (connections/s, 32 KiB each), server CPU 0, client CPU 1:"
for placement in "${chosen[@]}"; do
    for name in "${names[@]}"; do
        printf '  %-9s %-12s %9s\n' "$placement" "$name" "$(echo "${knees[$placement/$name]}" | median)"
    done
done
