#!/usr/bin/env bash
# Can this box hold N echo-flood connections, server and client on the same machine?
#
#   scripts/preflight.sh N [--processes P] [--sources S] [--backlog B]
#   scripts/preflight.sh --help
#
# P: processes on each side (default 1); S: source addresses given to flood-client with
# --source (default none: like flood-client, spread a loopback target over 127.0.0.x by
# itself above 4,096 connections); B: the server's listen backlog (default 32768). Checks
# descriptors per process, ports per source address, system-wide open files, somaxconn
# against the backlog, and an estimate of kernel memory; prints a verdict per check with
# the command that fixes it. Exit 0 when it fits (warnings allowed), 2 when a check fails
# (as flood-client exits 2 for a run that cannot fit) or on bad usage.
set -u

# usage [STATUS]: --help (0) prints the whole header above on stdout; bad usage (2) prints
# its synopsis on stderr.
usage() {
    local status=${1:-2}
    if [ "$status" -eq 0 ]; then
        sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    else
        sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$status"
}
is_count() { [[ ${1:-} =~ ^[1-9][0-9]*$ ]]; }

case ${1:-} in -h|--help) usage 0 ;; esac
n=${1:-}
is_count "$n" || usage
shift
processes=1; sources=""; backlog=32768
while [ $# -gt 0 ]; do
    case $1 in
        --processes) processes=${2:-}; shift 2 || usage ;;
        --sources) sources=${2:-}; shift 2 || usage ;;
        --backlog) backlog=${2:-}; shift 2 || usage ;;
        -h|--help) usage 0 ;;
        *) echo "preflight.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
if ! is_count "$processes" || ! is_count "$backlog"; then usage; fi
if [ -n "$sources" ] && ! is_count "$sources"; then usage; fi

failed=0
verdict() { # LEVEL CHECK MESSAGE [FIX]
    printf '%-5s %-12s %s\n' "$1" "$2" "$3"
    [ -n "${4:-}" ] && printf '      %-12s fix: %s\n' "" "$4"
    [ "$1" = FAIL ] && failed=1
    return 0
}
read_sys() { tr -s '[:space:]' ' ' < "/proc/sys/${1//.//}" 2>/dev/null | sed 's/ $//'; }
div_ceil() { echo $(( ($1 + $2 - 1) / $2 )); }

# Descriptors: each process holds its share of connections plus a few of its own.
reserved=64
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=$(read_sys fs.nr_open)
per_process=$(div_ceil "$n" "$processes")
capacity=$(( hard - reserved ))
if [ "$per_process" -le "$capacity" ]; then
    verdict OK descriptors "$per_process connections per process fit the open-file hard limit $hard"
else
    need=$(div_ceil "$n" "$capacity")
    verdict FAIL descriptors "$per_process connections per process exceed the open-file hard limit $hard ($capacity usable)" \
        "--processes $need on both sides (echo-server -p $need, flood-client -p $need), or scripts/raise-limits.sh --install and log in again"
fi

# Ports: one per connection per (source address, destination). Without --source,
# flood-client spreads a loopback target over 127.0.0.1-127.0.0.K by itself above
# spread_above connections, at most spread_above per address and 250 addresses
# (flood-client/src/modes/preflight.rs, SPREAD_ABOVE): the same rule is applied here.
spread_above=4096
read -r lo hi <<< "$(read_sys net.ipv4.ip_local_port_range)"
ports=$(( (hi - lo + 1) * 9 / 10 ))
range="ip_local_port_range $lo-$hi (~$ports usable per address)"
if [ -z "$sources" ] && [ "$n" -gt "$spread_above" ]; then
    auto=$(div_ceil "$n" $(( ports < spread_above ? ports : spread_above )))
    [ "$auto" -gt 250 ] && auto=250
    if [ "$n" -le $(( ports * auto )) ]; then
        verdict OK ports "flood-client spreads $n connections over source addresses 127.0.0.1-127.0.0.$auto by itself; each fits $range"
    else
        verdict FAIL ports "$n connections exceed $range even over 250 loopback source addresses" \
            "scripts/tune-kernel.sh apply (widens the range)"
    fi
else
    per_source=$(div_ceil "$n" "${sources:-1}")
    if [ "$per_source" -le "$ports" ]; then
        verdict OK ports "$per_source connections per source address fit $range"
    else
        need=$(div_ceil "$n" "$ports")
        verdict FAIL ports "$per_source connections per source address exceed $range" \
            "flood-client --source 127.0.0.1-127.0.0.$need (loopback), or scripts/tune-kernel.sh apply"
    fi
fi

# System-wide files: both ends live on this box.
file_max=$(read_sys fs.file-max)
if [ $(( 2 * n + 10000 )) -le "$file_max" ]; then
    verdict OK files "$((2 * n)) sockets (both ends) fit fs.file-max $file_max"
else
    verdict FAIL files "$((2 * n)) sockets (both ends) exceed fs.file-max $file_max" "scripts/tune-kernel.sh apply"
fi

# Backlog: a storm larger than the accept queue is retried by flood-client, but slowly.
somaxconn=$(read_sys net.core.somaxconn)
want=$(( backlog < n ? backlog : n ))
if [ "$somaxconn" -ge "$want" ]; then
    verdict OK backlog "net.core.somaxconn $somaxconn covers a backlog of $want"
else
    verdict WARN backlog "net.core.somaxconn $somaxconn clamps the backlog to $somaxconn of $want: storms overflow and retry" \
        "scripts/tune-kernel.sh apply"
fi

# Memory: ~4.5 KB of kernel slab per socket (measured, see docs/BENCHMARKS.md), plus one
# 32 KiB chunk in flight per connection in socket buffers, both ends.
avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
need_kb=$(( (2 * n * 4500 + 2 * n * 32768) / 1024 ))
if [ "$need_kb" -le $(( avail_kb * 8 / 10 )) ]; then
    verdict OK memory "~$((need_kb / 1024)) MiB of kernel memory estimated, $((avail_kb / 1024)) MiB available"
else
    verdict FAIL memory "~$((need_kb / 1024)) MiB of kernel memory estimated, only $((avail_kb / 1024)) MiB available" \
        "fewer connections, or the small-buffer profile: scripts/tune-kernel.sh apply --profile small-buffers"
fi

if [ "$failed" -eq 0 ]; then
    echo "verdict: this box can hold $n connections"
else
    echo "verdict: this box cannot hold $n connections as configured (see fix lines)"
fi
[ "$failed" -eq 0 ] || exit 2
