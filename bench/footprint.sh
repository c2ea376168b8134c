#!/usr/bin/env bash
# What a server costs beside CPU per operation (issue 26, target 4, for echo-server's epoll
# and io_uring backends, or any NAME=CMD servers): memory per idle connection and the delay
# a new client sees while 2,000 connections stream, each server started fresh per figure
# and the servers alternated run by run ROUNDS times, on loopback. Server on CPU 0, client
# on CPU 1.
#
#   bench/footprint.sh ROUNDS NAME=CMD NAME=CMD...
#       (env: IDLE=10000 idle connections; SAT_CONNS=2000 streams for SAT_FOR=10s)
#
# idle: scripts/idle-memory.py -n IDLE (the server's resident memory and the kernel's slab
# grown per connection, the first time the server holds them; the slab is the whole host's,
# halved per socket, and holds what an io_uring server keeps armed in the kernel for each
# idle connection). delay: flood-client saturate -c SAT_CONNS --probe-interval 100ms (a
# fresh connection every 100 ms doing connect, 32 KiB, echo, close beside the streams; its
# p99), and the streams' throughput. CMD listens on {host} (127.0.0.1), port 0, and prints
# `listening on ADDR` first. Prints each run, then per server the medians and the median of
# the per-round ratios to the first server. Needs a release build and python3. Prints
# figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

usage() { usage_of bench/footprint.sh "${1:-2}" 8,9; }
case ${1:-} in -h|--help) usage 0 ;; esac
[[ $# -ge 2 && ${1:-} =~ ^[1-9][0-9]*$ ]] || usage 2
rounds=$1; shift
idle=${IDLE:-10000}
sat_conns=${SAT_CONNS:-2000}
sat_for=${SAT_FOR:-10s}
[[ $idle =~ ^[1-9][0-9]*$ && $sat_conns =~ ^[1-9][0-9]*$ ]] ||
    { echo "footprint.sh: IDLE and SAT_CONNS are counts (e.g. IDLE=10000 SAT_CONNS=2000)" >&2; exit 2; }
need_release
servers_of "$@"
placement_setup loopback
out=$(mktemp)
server=""
trap 'stop_server; rm -f "$out" "$out.err" "$out.json" "$out.idle" "$out.client"' EXIT
trap 'exit 130' INT TERM

declare -A user slab p99 mbs ratio
declare -a last
printf '%-5s %-14s %12s %12s %14s %10s\n' round server "user B/conn" "slab B/sock" "delay p99 ms" "MB/s"
for round in $(seq "$rounds"); do
    order=("${!names[@]}")
    if ((round % 2 == 0)); then mapfile -t order < <(printf '%s\n' "${order[@]}" | tac); fi
    for i in "${order[@]}"; do
        start_server "${names[$i]}" "${cmds[$i]}" "$out"
        taskset -c 1 python3 scripts/idle-memory.py --pid "$server" --addr "$addr" -n "$idle" --json \
            > "$out.json" 2> "$out.idle" || : > "$out.json"
        stop_server
        read -r u s < <(python3 -c 'import json,sys
try:
    c = json.load(open(sys.argv[1]))["cold"]
    print("%.1f %.0f" % (c["user_bytes_per_conn"], c["kernel_slab_bytes_per_socket"]))
except Exception:
    print("- -")' "$out.json")
        start_server "${names[$i]}" "${cmds[$i]}" "$out"
        taskset -c 1 "$bin/flood-client" saturate "$addr" -c "$sat_conns" --duration "$sat_for" \
            --probe-interval 100ms --timeout 10s --server-pid "$server" --json > "$out.json" 2> "$out.client" || true
        stop_server
        read -r d m < <(python3 -c 'import json,sys
try:
    r = json.load(open(sys.argv[1]))
    print("%.2f %.0f" % (r["probe"]["latency"]["p99_us"] / 1000, r["flood"]["throughput_mb_s"]))
except Exception:
    print("- -")' "$out.json")
        if [[ $u == - || $d == - ]]; then
            echo "footprint.sh: ${names[$i]}: a figure is missing (idle: $u, delay: $d)" >&2
            [[ $u != - ]] || last_words "${names[$i]}: scripts/idle-memory.py gave no figure" "$out.idle"
            [[ $d != - ]] || last_words "${names[$i]}: flood-client saturate gave no delay" "$out.client"
        fi
        key=${names[$i]}
        user[$key]+="$u " slab[$key]+="$s " p99[$key]+="$d " mbs[$key]+="$m "
        printf '%-5s %-14s %12s %12s %14s %10s\n' "$round" "$key" "$u" "$s" "$d" "$m"
        last[i]="$u $s $d $m"
    done
    for i in "${!names[@]}"; do
        ((i == 0)) && continue
        ratio[${names[$i]}]+="$(awk -v a="${last[$i]}" -v b="${last[0]}" 'BEGIN {
            n = split(a, x, " "); split(b, y, " "); s = ""
            for (k = 1; k <= n; k++) s = s (k > 1 ? "," : "") ((x[k] == "-" || y[k] == "-" || y[k] == 0) ? "-" : sprintf("%.2f", x[k] / y[k]))
            print s }') "
    done
done
echo
echo "medians over $rounds rounds; ratio: to ${names[0]}, median of the rounds' ratios (user, slab, delay p99, MB/s)"
printf '%-14s %12s %12s %14s %10s  %s\n' server "user B/conn" "slab B/sock" "delay p99 ms" "MB/s" ratio
for i in "${!names[@]}"; do
    key=${names[$i]}
    r="-"
    if ((i > 0)); then
        r=$(for k in 1 2 3 4; do
                echo "${ratio[$key]}" | tr ' ' '\n' | grep . | cut -d, -f"$k" | median
            done | paste -sd' ')
    fi
    printf '%-14s %12s %12s %14s %10s  %s\n' "$key" "$(echo "${user[$key]}" | median)" \
        "$(echo "${slab[$key]}" | median)" "$(echo "${p99[$key]}" | median)" \
        "$(echo "${mbs[$key]}" | median)" "$r"
done
