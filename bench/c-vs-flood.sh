#!/usr/bin/env bash
# Issue #6 target 2: flood-client's client CPU per verified GiB beside bench/c-flood.c, a
# tight hand-written C epoll client doing the same work (precomputed pattern, memcmp, no
# allocation per chunk), both with write(2) and with vmsplice+splice sends. Server on CPU 0
# (echo-server: splice, or --read-write when SERVER_RW=1), clients on CPU 1, alternating
# ROUNDS times.
#
#   bench/c-vs-flood.sh [ROUNDS]     (env: CONNS=1000 BYTES=4194304 WINDOW=8 SERVER_RW=0)
#
# Needs gcc and a release build. Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
case ${1:-} in -h|--help) usage_of "$0" 0 ;; esac
need_release
rounds=${1:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage_of "$0" 2 8,8
conns=${CONNS:-1000}
bytes=${BYTES:-4194304}
window=${WINDOW:-8}
mkdir -p target/bench
gcc -O2 -Wall -Wextra -o target/bench/c-flood bench/c-flood.c

flags=(--splice)
[[ ${SERVER_RW:-0} == 1 ]] && flags=(--read-write)
out=$(mktemp)
server=""
trap 'stop_server; rm -f "$out" "$out.err"' EXIT
placement_setup loopback
start_server echo-server "$bin/echo-server --listen {host}:0 ${flags[*]}" "$out"

declare -A all
cases=("c-flood write" "c-flood vmsplice" "flood-client --send write" "flood-client --send splice")
for ((r = 1; r <= rounds; r++)); do
    for c in "${cases[@]}"; do
        case $c in
            c-flood*)
                line=$(taskset -c 1 target/bench/c-flood "${addr%:*}" "${addr##*:}" "$conns" "$bytes" 32768 "$window" "${c#c-flood }" |
                    python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f %.2f" % (r["mb_per_s"], r["cpu_s_per_gib"]))') ;;
            *)
                line=$(flood_run taskset -c 1 "$bin"/flood-client "$addr" -c "$conns" -b "$bytes" \
                    --window "$window" --send "${c##* }" --json)
                line=${line% *} ;;
        esac
        all[$c]+="${line#* } "
        printf 'round %d  %-28s %s\n' "$r" "$c" "$line"
    done
done
echo "# MB/s (one direction) and client CPU s per verified GiB; server ${flags[*]}"
for c in "${cases[@]}"; do
    printf 'median %-28s %5.2f s/GiB\n' "$c" "$(echo "${all[$c]}" | median)"
done
