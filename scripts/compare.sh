#!/usr/bin/env bash
# The whole comparison in one command: sweep + saturate/probe + idle memory + the iperf3
# ceiling, against echo-server and every peer server that could be installed.
#
#   scripts/compare.sh [--only NAMES] [--install-peers] [OUT_DIR]   default OUT_DIR bench-results/<date-time>
#   scripts/compare.sh --list [--only NAMES]
#   scripts/compare.sh --help
#
# --only NAMES: run only these servers (comma-separated names, as --list prints them); an
# unknown name exits 2. --list prints the NAME=CMD line of every server a run would use
# here (echo-server and each installed peer: go, uring-c (C on liburing), node, asyncio,
# uvloop, twisted, eventlet, erlang, erlang-16k (--buffer 16384), threads, tornado, gevent)
# and exits, building, installing and running nothing. Paths in those lines are relative to
# the checkout's root, where every command runs.
#
# A run first has scripts/install-peers.sh (apt and pip, as root) install what it lacks, and
# says on stderr what: a peer of its servers not installed, or built from a source changed
# since; taskset; and, without --only, iperf3 (the ceiling). With nothing lacking it
# installs nothing; --install-peers runs install-peers.sh anyway.
#
# OUT_DIR is new, empty, or an earlier compare.sh run's (its commands.txt says so): the
# files such a run wrote there are removed before this one writes, so none of them joins
# its report, and any other file is kept. Any other folder with files in it is refused
# (exit 2), touching nothing.
#
# Settings (environment): CONNS (sweep counts), BYTES (payloads), REPEAT (runs per point),
# SAT_CONNS and SAT_FOR (saturation), IDLE (idle connections for the memory figure),
# RW_SWEEP=1 to sweep echo-server --read-write too (about 4 more minutes; it is always in
# the saturation and memory runs). echo-server's default on Linux is --splice.
# KNEES=0 leaves out the knees (bench/knees.sh per server: the highest new-connection rate
# and message rate at 2,000 connections with p99 <= 10 ms; about 1.5 minutes a server with
# KNEE_STEP=3s). Without them the defaults fit in about 10 minutes on a 2-core box, which
# is why REPEAT is 2 (the original study kept the best of 3: REPEAT=3 takes longer).
# BACKENDS=1 adds bench/backends.sh: the server CPU per churn connection, per message and
# per GiB of echo-server with epoll, echo-server --io uring and uring-c (when it runs),
# alternated BACKENDS_ROUNDS times (default 3; PLACEMENTS and DURATION pass through, default
# loopback only), into backends.txt (about 1.5 minutes a round on loopback); and
# bench/footprint.sh for the same servers: idle memory per connection (IDLE) and the client
# delay probe's p99 beside SAT_CONNS streams for SAT_FOR, into footprint.txt (about 1
# minute a round).
# Servers run on CPU 0, clients on CPU 1. BIN_DIR=DIR takes flood-client and echo-server
# from DIR and builds nothing (the smoke test runs the debug build: its figures mean nothing).
# Prints figures; never fails on timing. Writes summary.md beside the raw JSON, CSV and charts,
# and report.html: one self-contained page (tables, charts, machine, commands) for a browser.
set -euo pipefail
known=(echo-server echo-server-rw go uring-c node asyncio uvloop twisted eventlet erlang erlang-16k threads tornado gevent)
list=0
only=
install=0
pos=()
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        --list) list=1 ;;
        --only)
            [ $# -ge 2 ] || { echo "compare.sh: --only needs NAMES (one or more of: ${known[*]})" >&2; exit 2; }
            only=$2
            shift ;;
        --only=*) only=${1#--only=} ;;
        --install-peers) install=1 ;;
        --) shift; pos+=("$@"); break ;;
        -*) echo "compare.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
        *) pos+=("$1") ;;
    esac
    shift
done
if [ ${#pos[@]} -gt 1 ]; then
    echo "compare.sh: one OUT_DIR at most, got ${pos[*]} (--help)" >&2
    exit 2
fi
wanted=()
if [ -n "$only" ]; then
    IFS=, read -ra wanted <<< "$only"
    for name in "${wanted[@]}"; do
        case " ${known[*]} " in
            *" $name "*) ;;
            *) echo "compare.sh: --only: unknown server '$name' (known: ${known[*]})" >&2; exit 2 ;;
        esac
    done
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Every command runs from the root with paths relative to it: the server command lines are
# split on spaces, and a checkout path may hold one.
cd "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh # bin (BIN_DIR, relative when inside the checkout), last_words
need_plain_bin
peers=scripts/peers

# Whether server NAME is one the run wants (--only; all without it).
is_wanted() { [ ${#wanted[@]} -eq 0 ] || [[ " ${wanted[*]} " == *" $1 "* ]]; }

# Whether server NAME can run here: its program installed, its peer built (install-peers.sh).
installed() {
    case $1 in
        go) [ -x target/peers/go-echo ] ;;
        uring-c) [ -x target/peers/uring-echo ] ;;
        node) command -v node >/dev/null ;;
        erlang|erlang-16k) command -v escript >/dev/null ;;
        uvloop|twisted|eventlet|tornado|gevent) python3 -c "import $1" 2>/dev/null ;;
        *) true ;; # echo-server (cargo builds it) and the peers on python3 alone
    esac
}

# Whether server NAME's peer binary is older than its source (install-peers.sh rebuilds it).
stale() {
    case $1 in
        go) [ "$peers/go-echo.go" -nt target/peers/go-echo ] ;;
        uring-c) [ "$peers/uring-echo.c" -nt target/peers/uring-echo ] ;;
        *) false ;;
    esac
}

# The command line of server NAME.
command_of() {
    case $1 in
        echo-server) echo "$bin/echo-server --listen 127.0.0.1:0 --processes {processes}" ;;
        echo-server-rw) echo "$bin/echo-server --listen 127.0.0.1:0 --read-write --processes {processes}" ;;
        go) echo "target/peers/go-echo 0" ;;
        uring-c) echo "target/peers/uring-echo 0" ;;
        node) echo "node $peers/node-echo.js 0" ;;
        uvloop) echo "python3 $peers/asyncio_echo.py 0 --uvloop" ;;
        erlang) echo "escript $peers/erlang_echo.erl 0" ;;
        erlang-16k) echo "escript $peers/erlang_echo.erl 0 --buffer 16384" ;;
        asyncio|threads|twisted|eventlet|tornado|gevent) echo "python3 $peers/${1}_echo.py 0" ;;
    esac
}

# The servers of the run: echo-server, then every peer installed here (NAME=CMD each),
# narrowed to --only's names.
collect_servers() {
    servers=()
    local name
    for name in "${known[@]}"; do
        if is_wanted "$name" && installed "$name"; then
            servers+=("$name=$(command_of "$name")")
        fi
    done
    for name in "${wanted[@]}"; do
        if ! installed "$name"; then
            echo "compare.sh: --only: $name is not installed here (scripts/install-peers.sh)" >&2
            exit 2
        fi
    done
}

# What the run lacks that scripts/install-peers.sh installs, one word each: its servers
# not installed or stale, taskset, and, without --only, iperf3.
lacking() {
    local name lack=()
    for name in "${known[@]}"; do
        if is_wanted "$name" && { ! installed "$name" || stale "$name"; }; then
            lack+=("$name")
        fi
    done
    command -v taskset >/dev/null || lack+=(taskset)
    [ -n "$only" ] || command -v iperf3 >/dev/null || lack+=(iperf3)
    echo "${lack[*]}"
}
if [ "$list" = 1 ]; then
    collect_servers
    printf '%s\n' "${servers[@]}"
    exit 0
fi
out=${pos[0]:-bench-results/$(date +%Y%m%d-%H%M%S)}
# 32,768 is left out by default: only echo-server (worker processes) can hold it here, and
# BENCHMARKS.md's scale table covers it. CONNS=1,4,16,64,256,1024,4096,16384,32768 adds it.
CONNS=${CONNS:-1,4,16,64,256,1024,4096,16384}
BYTES=${BYTES:-32KiB,512KiB}
REPEAT=${REPEAT:-2}
SAT_CONNS=${SAT_CONNS:-2000}
SAT_FOR=${SAT_FOR:-10s}
IDLE=${IDLE:-10000}

if [ "$(nproc)" -lt 2 ]; then
    echo "compare.sh: needs 2 CPUs (server on CPU 0, client on CPU 1)" >&2
    exit 2
fi
# OUT_DIR: an earlier run's files are removed below, once the build and the install are
# through, so none of them joins this run's report; a folder that is not an earlier run's is
# refused, so nothing a person put there is lost.
earlier=0
if [ -e "$out" ] && [ ! -d "$out" ]; then
    echo "compare.sh: OUT_DIR '$out' is not a folder: name a new one" >&2
    exit 2
elif [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
    if ! head -n 1 "$out/commands.txt" 2>/dev/null | grep -q '^# scripts/compare\.sh '; then
        echo "compare.sh: OUT_DIR '$out' is neither empty nor an earlier compare.sh run's (no commands.txt of one): name a new or empty folder (the default, bench-results/<date-time>, is new)" >&2
        exit 2
    fi
    earlier=1
fi
[ -n "${BIN_DIR:-}" ] || cargo build --release --quiet
lacks=$(lacking)
if [ "$install" = 1 ]; then
    echo "compare.sh: --install-peers: running scripts/install-peers.sh" >&2
    bash scripts/install-peers.sh
elif [ -n "$lacks" ]; then
    echo "compare.sh: installing what this run lacks: $lacks (scripts/install-peers.sh; --only NAMES leaves servers out)" >&2
    bash scripts/install-peers.sh
fi
if [ "$earlier" = 1 ]; then
    echo "compare.sh: $out holds an earlier run: removing the files it wrote (any other file is kept)" >&2
    # Every file a run below writes.
    (cd "$out" && rm -rf -- commands.txt servers.txt machine.txt sweep.json sweep.csv sweep.svg \
        sweep.png saturate-*.json saturate-*.txt idle-*.json knees backends.txt footprint.txt \
        iperf3.json summary.md report.html)
fi
mkdir -p "$out"
fc=$bin/flood-client
# Every measuring command is written to commands.txt (shown in report.html) before it runs.
echo "# scripts/compare.sh ${only:+--only $only }$out with CONNS=$CONNS BYTES=$BYTES REPEAT=$REPEAT SAT_CONNS=$SAT_CONNS SAT_FOR=$SAT_FOR IDLE=$IDLE" > "$out/commands.txt"
logged() {
    printf '%q ' "$@" >> "$out/commands.txt"
    echo >> "$out/commands.txt"
    "$@"
}

collect_servers
printf '%s\n' "${servers[@]}" > "$out/servers.txt"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "somaxconn: $(cat /proc/sys/net/core/somaxconn); port range: $(tr '\t' ' ' < /proc/sys/net/ipv4/ip_local_port_range); nofile: $(ulimit -Hn)"
    echo "settings: CONNS=$CONNS BYTES=$BYTES REPEAT=$REPEAT SAT_CONNS=$SAT_CONNS SAT_FOR=$SAT_FOR IDLE=$IDLE"
} > "$out/machine.txt"
cat "$out/machine.txt"

echo "== sweep"
args=()
for s in "${servers[@]}"; do
    # Left out of the sweep unless RW_SWEEP=1 or --only names it.
    [ "${s%%=*}" = echo-server-rw ] && [ "${RW_SWEEP:-0}" != 1 ] && [ -z "$only" ] && continue
    args+=(--server "$s")
done
# A server that cannot hold a count (descriptors) fails in seconds (--timeout) or at the
# latest when the run limit passes (--run-timeout; the slowest passing run here is ~18 s),
# and larger counts of it are then skipped.
logged "$fc" sweep --pin --connections "$CONNS" --bytes "$BYTES" --repeat "$REPEAT" --timeout 10s \
    --run-timeout 30s --out "$out" "${args[@]}" || true

echo "== saturate $SAT_CONNS connections for $SAT_FOR, client-delay probe every 100 ms"
for s in "${servers[@]}"; do
    name=${s%%=*}
    logged "$fc" saturate --pin --server-cmd "$s" -c "$SAT_CONNS" --duration "$SAT_FOR" \
        --probe-interval 100ms --timeout 10s --json > "$out/saturate-$name.json" 2> "$out/saturate-$name.txt" || true
    grep -E "throughput|system|server  |client delay" "$out/saturate-$name.txt" | sed "s/^/$name: /" || true
done

echo "== idle memory, $IDLE connections"
for s in "${servers[@]}"; do
    name=${s%%=*}
    cmd=${s#*=}
    cmd=${cmd//\{processes\}/1}
    log=$(mktemp)
    # shellcheck disable=SC2086 # the command is a word list on purpose
    taskset -c 0 $cmd > "$log" 2> "$log.err" &
    pid=$!
    # A Ctrl-C here must not leave the peer listening (a Python peer started in the
    # background ignores SIGINT) or its log behind.
    trap 'kill "$pid" 2>/dev/null; rm -f "$log" "$log.err"' EXIT
    trap 'exit 130' INT TERM
    for _ in $(seq 200); do grep -q '^listening on ' "$log" && break; sleep 0.05; done
    addr=$(sed -n 's/^listening on //p' "$log" | head -n 1)
    if [ -n "$addr" ]; then
        logged taskset -c 1 python3 scripts/idle-memory.py --pid "$pid" --addr "$addr" -n "$IDLE" --json \
            > "$out/idle-$name.json" || echo "$name: idle memory failed"
    else
        last_words "$name: no idle memory: it did not say 'listening on'" "$log.err"
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$log" "$log.err"
    trap - EXIT INT TERM
done

if [ "${KNEES:-1}" = 1 ]; then
    echo "== knees: new connections/s and messages/s at 2,000 connections, p99 <= 10 ms"
    for s in "${servers[@]}"; do
        [ "${s%%=*}" = echo-server-rw ] && continue
        logged env STEP="${KNEE_STEP:-3s}" OUT="$out/knees" BIN_DIR="$bin" bash bench/knees.sh "$s" ||
            echo "${s%%=*}: knees failed"
    done
fi

if [ "${BACKENDS:-0}" = 1 ]; then
    echo "== io_uring against epoll: server CPU per operation (bench/backends.sh)"
    which=("epoll=$bin/echo-server --listen {host}:0" "uring=$bin/echo-server --io uring --listen {host}:0")
    for s in "${servers[@]}"; do
        [ "${s%%=*}" = uring-c ] && which+=("uring-c=target/peers/uring-echo {host}:0")
    done
    logged env PLACEMENTS="${PLACEMENTS:-loopback}" BIN_DIR="$bin" \
        bash bench/backends.sh "${BACKENDS_ROUNDS:-3}" "${which[@]}" > "$out/backends.txt" ||
        echo "backends failed (see $out/backends.txt)"
    sed -n '/^medians/,$p' "$out/backends.txt"
    echo "== io_uring against epoll: idle memory and client delay (bench/footprint.sh)"
    logged env BIN_DIR="$bin" IDLE="$IDLE" SAT_CONNS="$SAT_CONNS" SAT_FOR="$SAT_FOR" \
        bash bench/footprint.sh "${BACKENDS_ROUNDS:-3}" "${which[@]}" > "$out/footprint.txt" ||
        echo "footprint failed (see $out/footprint.txt)"
    sed -n '/^medians/,$p' "$out/footprint.txt"
fi

echo "== iperf3 single-stream ceiling"
if command -v iperf3 >/dev/null; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=$(mktemp)
    taskset -c 0 iperf3 -s -1 -B 127.0.0.1 -p "$port" > "$log" 2>&1 &
    ipid=$!
    trap 'kill "$ipid" 2>/dev/null; rm -f "$log"' EXIT
    trap 'exit 130' INT TERM
    # Wait for the listener without connecting to it: -1 serves exactly one client.
    for _ in $(seq 100); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.05; done
    taskset -c 1 iperf3 -c 127.0.0.1 -p "$port" -t 5 -J > "$out/iperf3.json" ||
        last_words "iperf3 failed (the client's error is in $out/iperf3.json); the server" "$log"
    # A client that never connected leaves the one-client server waiting for ever.
    kill "$ipid" 2>/dev/null || true
    wait "$ipid" 2>/dev/null || true
    rm -f "$log"
    trap - EXIT INT TERM
else
    echo "iperf3 not installed: no ceiling line"
fi

python3 scripts/summarize.py "$out" > "$out/summary.md"
cat "$out/summary.md"
# The page to open: redrawn from sweep.json, with the saturation runs and the texts above.
if [ -f "$out/sweep.json" ]; then
    sat=()
    for f in "$out"/saturate-*.json; do
        if [ -s "$f" ]; then sat+=(--saturate "$f"); fi
    done
    attach=(--attach "$out/machine.txt" --attach "$out/commands.txt" --attach "$out/summary.md")
    for f in "$out/backends.txt" "$out/footprint.txt"; do
        if [ -s "$f" ]; then attach+=(--attach "$f"); fi
    done
    "$fc" sweep --from "$out/sweep.json" --out "$out" --html "${sat[@]}" "${attach[@]}" \
        || echo "compare.sh: no report.html (see above)"
fi
echo "compare.sh: results in $out (open $out/report.html in a browser)"
