#!/usr/bin/env bash
# The two knees of issue 14, for one server, with `flood-client limit`:
#   1. new connections per second: churn, 32 KiB each (connect, send, verify, close),
#      the highest rate whose p99 from the scheduled connect is <= 10 ms;
#   2. messages per second at 2,000 connections (open model, 32 KiB messages), the highest
#      rate whose p99 from the scheduled send is <= 10 ms.
# Each also needs no failure and an achieved rate of at least 95% of offered. Server on
# CPU 0, client on CPU 1. Results (JSON, CSV, chart) in OUT/<name>-churn and
# OUT/<name>-rate; the two knees are printed at the end.
#
#   bench/knees.sh [NAME=CMD ARGS]   (default: this workspace's echo-server)
#   env: STEP=5s CONNECT_RATES=50..20000 RATES=1000..200000 CONNS=2000 OUT=bench-results/knees
#
# A full run takes minutes and loads the box; do not run it beside other work. Needs a
# release build (cargo build --release). Prints figures, never fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
case ${1:-} in -h|--help) usage_of "$0" 0 ;; esac
need_release
step=${STEP:-5s}
out=${OUT:-bench-results/knees}
if [[ $# -gt 0 ]]; then
    server=(--server-cmd "$1")
    name=${1%%=*}
else
    server=(--spawn-server)
    name=echo-server
fi

knee() { # DIR FLAGS…: runs limit, prints its knee
    local dir=$1
    shift
    # A search with no knee exits 1 (no step held): its report still says so, and the
    # other search still runs.
    { "$bin/flood-client" limit "${server[@]}" --pin --step "$step" --p99 10ms \
        --out "$dir" --json "$@" || true; } | knee_of_report
}

churn=$(knee "$out/$name-churn" --connect-rate "${CONNECT_RATES:-50..20000}" -b 32KiB)
rate=$(knee "$out/$name-rate" --rate "${RATES:-1000..200000}" -c "${CONNS:-2000}" --chunk 32KiB)
echo "$name: new connections/s (32 KiB each, p99 <= 10 ms): $churn"
echo "$name: messages/s at ${CONNS:-2000} connections (p99 <= 10 ms): $rate"
