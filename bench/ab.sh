#!/usr/bin/env bash
# Before/after on this drifting box: two builds of the pair, alternating run by run (A B, then
# B A, so a drift within a round cancels), pinned (server CPU 0, client CPU 1), ROUNDS times.
# Prints every run, each build's medians, and the median of the per-round ratios B/A, which
# is the only figure that means much here.
#
#   bench/ab.sh DIR_A DIR_B [ROUNDS] -- FLOOD-CLIENT FLAGS…
#   e.g. bench/ab.sh /tmp/before target/release 5 -- -c 4096 -b 32KiB
#
# Each DIR holds flood-client and echo-server (flood-client --spawn-server starts the one
# beside it). Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
case ${1:-} in -h|--help) usage_of "$0" 0 ;; esac
[[ $# -ge 3 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
a=$1 b=$2
shift 2
rounds=5
if [[ $1 != -- ]]; then rounds=$1; shift; fi
[[ ${1:-} == -- ]] || { echo "ab: want -- before the flood-client flags" >&2; exit 2; }
shift
for d in "$a" "$b"; do
    [[ -x $d/flood-client && -x $d/echo-server ]] ||
        { echo "ab: $d has no flood-client and echo-server" >&2; exit 2; }
done

run() { # DIR: one pinned run of the pair, "MB/s client-s/GiB server-s/GiB"
    flood_run "$1/flood-client" --pin --spawn-server --json "${@:2}"
}

declare -A last runs # runs: "a mbs" → "1234 1300 …", and so on for each build and figure
ratios=""
for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then order=(a b); else order=(b a); fi
    for which in "${order[@]}"; do
        dir=$a
        [[ $which == b ]] && dir=$b
        read -r mbs cli srv <<< "$(run "$dir" "$@")"
        printf 'round %d  %s  %6s MB/s  client %s s/GiB  server %s s/GiB\n' "$r" "$which" "$mbs" "$cli" "$srv"
        runs["$which mbs"]+="$mbs " runs["$which cli"]+="$cli " runs["$which srv"]+="$srv "
        last[$which]=$mbs
    done
    ratios+="$(awk -v x="${last[b]}" -v y="${last[a]}" 'BEGIN {printf "%.3f", x / y}') "
done
for which in a b; do
    printf 'median %s  %6s MB/s  client %s s/GiB  server %s s/GiB\n' "$which" \
        "$(echo "${runs["$which mbs"]}" | median)" "$(echo "${runs["$which cli"]}" | median)" \
        "$(echo "${runs["$which srv"]}" | median)"
done
printf 'B/A throughput per round: %s-> median %s\n' "$ratios" "$(echo "$ratios" | median)"
