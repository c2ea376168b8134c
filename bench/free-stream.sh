#!/usr/bin/env bash
# Issue 17 target 3: server CPU per GiB echoed under a client that does not wait for its
# echo (bench/c-flood.c with the window set to the whole transfer, as tcpkali or an
# iperf3-style sender streams), for two or more servers started fresh each round and
# alternated, ROUNDS times. Server on CPU 0, client on CPU 1.
#
#   bench/free-stream.sh ROUNDS NAME=CMD NAME=CMD...
#       (env: CONNS=1000 BYTES=524288 CHUNK=32768 REPEAT=3: c-flood runs per server start,
#        so the CPU, read in 10 ms ticks, covers enough of them)
#
# CMD must print `listening on ADDR` on its first stdout line (echo-server --listen
# 127.0.0.1:0 does; so do the peers of scripts/install-peers.sh, given port 0). Prints each
# round, then per server the median CPU s/GiB and its ratio to the first server's median.
# Needs gcc and a release build. Prints figures, never fails on them.
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
mkdir -p target/bench
gcc -O2 -Wall -Wextra -o target/bench/c-flood bench/c-flood.c

names=(); cmds=()
for spec in "$@"; do
    [[ $spec == *=* ]] || { echo "free-stream.sh: '$spec' is not NAME=CMD" >&2; exit 2; }
    names+=("${spec%%=*}"); cmds+=("${spec#*=}")
done

# cpu_ticks PID: user + system clock ticks of the process and all its threads.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
declare -A per_gib
out=$(mktemp)
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null; fi; rm -f "$out"' EXIT
printf '%-6s %-14s %10s %10s %12s\n' round server "MB/s" "cpu s" "cpu s/GiB"
for round in $(seq "$rounds"); do
    for i in "${!names[@]}"; do
        # shellcheck disable=SC2086 # CMD is a command line, split on purpose.
        taskset -c 0 ${cmds[$i]} > "$out" 2>/dev/null &
        server=$!
        for _ in $(seq 100); do grep -q '^listening on' "$out" && break; sleep 0.05; done
        addr=$(sed -n 's/^listening on //p' "$out")
        [ -n "$addr" ] || { echo "free-stream.sh: ${names[$i]} did not say 'listening on'" >&2; exit 1; }
        before=$(cpu_ticks "$server")
        lines=()
        for _ in $(seq "$repeat"); do
            lines+=("$(taskset -c 1 target/bench/c-flood "${addr%:*}" "${addr##*:}" "$conns" \
                "$bytes" "$chunk" "$window" vmsplice)")
        done
        after=$(cpu_ticks "$server")
        kill "$server"; wait "$server" 2>/dev/null || true; server=""
        read -r mbs cpu gib < <(python3 -c 'import json,sys
runs = [json.loads(l) for l in sys.argv[4:]]
cpu = (int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3])
total = sum(r["bytes"] for r in runs)
mbs = total / sum(r["stream_s"] for r in runs) / 1e6
print("%.0f %.3f %.4f" % (mbs, cpu, cpu / (total / 2**30)))' \
            "$before" "$after" "$hz" "${lines[@]}")
        per_gib[${names[$i]}]+="$gib "
        printf '%-6s %-14s %10s %10s %12s\n' "$round" "${names[$i]}" "$mbs" "$cpu" "$gib"
    done
done
first=$(echo "${per_gib[${names[0]}]}" | median)
echo "median server CPU s/GiB (ratio to ${names[0]}):"
for name in "${names[@]}"; do
    m=$(echo "${per_gib[$name]}" | median)
    printf '  %-14s %8s  %s\n' "$name" "$m" "$(python3 -c "print('%.2f' % ($m / $first))")"
done
