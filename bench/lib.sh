# Helpers shared by the bench/ scripts (sourced, not run).
# shellcheck shell=bash

# The binaries every bench script runs (BIN_DIR overrides, e.g. a test's debug build).
bin=${BIN_DIR:-target/release}

# Fails with a message unless the release binaries exist.
need_release() {
    [[ -x $bin/flood-client && -x $bin/echo-server ]] ||
        { echo "$(basename "$0"): run cargo build --release first" >&2; exit 2; }
}

# Runs the command every 50 ms until it succeeds; returns 1 if it has not within 5 s.
wait_for() {
    local tries=0
    until "$@"; do
        tries=$((tries + 1))
        ((tries < 100)) || return 1
        sleep 0.05
    done
}

# Median of the numbers on stdin (space or newline separated).
median() {
    tr ' ' '\n' | grep . | sort -n |
        awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# "MB/s client-s/GiB server-s/GiB" from a flood-client --json report on stdin; fails the
# script if any connection failed.
flood_figures() {
    python3 -c 'import json,sys
r = json.load(sys.stdin)
if r["connections_failed"]:
    sys.exit("flood-client run failed: %s" % r["errors"])
srv = r["server"]["cpu_s_per_gib"] if r.get("server") else float("nan")
print("%.0f %.2f %.2f" % (r["throughput_mb_s"], r["client_cpu_s_per_gib"], srv))'
}

# usage SCRIPT [STATUS] [LINES]: --help (STATUS 0) prints SCRIPT's header comment on stdout;
# bad usage prints its synopsis (LINES, a sed range of the header) on stderr. Exits STATUS.
usage_of() {
    local script=$1 status=${2:-2} lines=${3:-2,3}
    if [ "$status" -eq 0 ]; then
        sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$script"
    else
        sed -n "${lines}p" "$script" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$status"
}
