# Helpers shared by the bench/ scripts (sourced, not run).
# shellcheck shell=bash

# The binaries every bench script runs (BIN_DIR overrides, e.g. a test's debug build). The
# scripts run from the checkout's root, so a BIN_DIR inside it is taken relative to it: the
# server command lines split on spaces then hold no part of the checkout's path.
bin=${BIN_DIR:-target/release}
bin=${bin#"$PWD"/}

# Fails with a message if the binaries' path has white space: server command lines are split
# on it.
need_plain_bin() {
    [[ $bin != *[[:space:]]* ]] ||
        { echo "$(basename "$0"): BIN_DIR '$bin' has a space in its path, and server command lines are split on spaces: use binaries under a path without one, or under this checkout" >&2; exit 2; }
}

# Fails with a message unless the release binaries exist (at a path need_plain_bin takes).
need_release() {
    [[ -x $bin/flood-client && -x $bin/echo-server ]] ||
        { echo "$(basename "$0"): run cargo build --release first" >&2; exit 2; }
    need_plain_bin
}

# last_words WHAT FILE: says on stderr that WHAT (a client or server that failed) and shows
# the last lines of FILE, its stderr, for the reason.
last_words() {
    echo "$(basename "$0"): $1; its last words:" >&2
    tail -n 5 "$2" | sed 's/^/  /' >&2
}

# flood_run CMD...: runs CMD (a flood-client --json run) and prints flood_figures of its
# report; CMD's stderr is kept, and shown (last_words) when CMD fails. Returns 1 on no report.
flood_run() {
    local err report status=0
    err=$(mktemp)
    report=$("$@" 2> "$err") || status=$?
    ((status == 0)) || last_words "flood-client exited $status" "$err"
    rm -f "$err"
    [[ -n $report ]] || return 1
    flood_figures <<< "$report"
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

# Median of the numbers on stdin (space or newline separated). A "-" is a figure a run could
# not give and is left out; with no figure left the median is "-" too, never 0.
median() {
    tr ' ' '\n' | { grep -v -e '^-$' -e '^$' || true; } | sort -n |
        awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# "MB/s client-s/GiB server-s/GiB" from a flood-client --json report on stdin; fails the
# script if any connection failed.
flood_figures() {
    python3 -c 'import json,sys
r = json.load(sys.stdin)
if r["connections_failed"]:
    sys.exit("flood-client run failed: %s" % r["errors"])
srv = r["server"]["cpu_s_per_gib"] if r.get("server") else float("nan")
print("%.0f %.4g %.4g" % (r["throughput_mb_s"], r["client_cpu_s_per_gib"], srv))'
}

# The knee (a number, or null when no step held) of a `flood-client limit --json` report on
# stdin.
knee_of_report() {
    sed -n 's/.*"knee":\(null\|[0-9.e+]\+\).*/\1/p'
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

# Where the kernel's receive work runs. On loopback, the receiving end's protocol work (the
# server's SYN and child socket, the bytes it reads) runs on the *sending* core, so a pinned
# client pays for much of its server and a server for much of its client. PLACEMENT says
# where the two ends go:
#   loopback     the host's own loopback, as every other bench script runs (no namespace);
#   server-core  one throwaway namespace whose loopback receive work is steered (RPS) to the
#                server's CPU 0: the client's core only runs the client's own system calls;
#   two-hosts    two throwaway namespaces joined by a veth pair, each end's receive work
#                steered to its own core (server CPU 0, client CPU 1), as two hosts would
#                each do their own. The client's namespace reuses TIME_WAIT ports
#                (tcp_tw_reuse=1), as stock loopback already does.
# placement_setup PLACEMENT sets srv_in and cli_in (command prefixes, arrays: run a command
# at the server's or the client's end) and srv_host (the address a server listens on).
# Call placement_cleanup on exit. Names carry PLACEMENT_TAG (default: the script's PID).
placements="loopback server-core two-hosts"
placement_ns=()
# shellcheck disable=SC2034 # srv_in, cli_in and srv_host are for the scripts that source this.
placement_setup() {
    local tag=${PLACEMENT_TAG:-$$} ns
    srv_in=(); cli_in=(); srv_host=127.0.0.1
    case $1 in
    loopback) return 0 ;;
    server-core)
        ns=ef-steer-$tag
        ip netns add "$ns" && placement_ns+=("$ns") || return 1
        ip -n "$ns" link set lo up &&
            ip netns exec "$ns" sh -c 'echo 1 > /sys/class/net/lo/queues/rx-0/rps_cpus' || return 1
        srv_in=(ip netns exec "$ns"); cli_in=(ip netns exec "$ns")
        ;;
    two-hosts)
        # The same namespaces, veth pair and steering as flood-client --placement split:
        # made by flood-client itself (setup/placement.rs), the one implementation of both.
        local srv cli host
        read -r srv cli host < <("$bin/flood-client" placement up "$tag") || return 1
        [ -n "${host:-}" ] || return 1
        placement_ns+=("$srv" "$cli")
        srv_in=(ip netns exec "$srv"); cli_in=(ip netns exec "$cli"); srv_host=$host
        ;;
    *)
        echo "$(basename "$0"): PLACEMENT '$1' is not one of: $placements" >&2
        return 2
        ;;
    esac
}

# check_placements PLACEMENT...: exits 2, naming the fix, for a placement that does not
# exist or that needs root (namespaces) the script does not have.
check_placements() {
    local p
    for p in "$@"; do
        [[ " $placements " == *" $p "* ]] ||
            { echo "$(basename "$0"): PLACEMENT '$p' is not one of: $placements" >&2; exit 2; }
        if [ "$p" != loopback ] && [ "$(id -u)" -ne 0 ]; then
            echo "$(basename "$0"): $p needs root (network namespaces); run as root or use loopback" >&2
            exit 2
        fi
    done
}

# servers_of NAME=CMD...: sets names and cmds (arrays, in order), or exits 2 naming the
# argument that is not NAME=CMD.
# shellcheck disable=SC2034 # names and cmds are for the scripts that source this.
servers_of() {
    local spec
    names=(); cmds=()
    for spec in "$@"; do
        [[ $spec == *=* ]] || { echo "$(basename "$0"): '$spec' is not NAME=CMD" >&2; exit 2; }
        names+=("${spec%%=*}"); cmds+=("${spec#*=}")
    done
}

# One line saying where the current placement's receive work runs, read back from the kernel.
placement_describe() {
    local ns dev
    [ ${#placement_ns[@]} -gt 0 ] || { echo "the host's own, receive work on the sending core"; return; }
    for ns in "${placement_ns[@]}"; do
        for dev in $(ip netns exec "$ns" ls /sys/class/net); do
            ip netns exec "$ns" sh -c "printf '%s %s rps_cpus=%s  ' $ns $dev \$(cat /sys/class/net/$dev/queues/rx-0/rps_cpus)"
        done
    done
    echo
}

# Removes every namespace placement_setup made (the veth pair goes with them).
placement_cleanup() {
    local ns
    for ns in "${placement_ns[@]}"; do ip netns del "$ns" 2>/dev/null; done
    placement_ns=()
}

# start_server NAME CMD OUTFILE: starts CMD ({host} becoming srv_host) at the server's end
# of the current placement, pinned to CPU 0, its stdout in OUTFILE; sets server (its PID)
# and addr (what it printed after `listening on`). Exits the script if it never listens.
# shellcheck disable=SC2034 # addr is for the scripts that source this.
start_server() {
    local name=$1 cmd=$2 outfile=$3
    # Emptied here, not only by the redirection below: that runs in the background child,
    # maybe after the wait below has already found the previous server's line in the file
    # (and then read an empty address once the child truncated it).
    : > "$outfile"
    # shellcheck disable=SC2086 # CMD is a command line, split on purpose.
    "${srv_in[@]}" taskset -c 0 ${cmd//\{host\}/$srv_host} > "$outfile" 2> "$outfile.err" &
    server=$!
    if ! wait_for grep -q '^listening on' "$outfile"; then
        last_words "$name did not say 'listening on'" "$outfile.err"
        exit 1
    fi
    addr=$(sed -n 's/^listening on //p' "$outfile")
}

# Stops the server start_server started, if one runs, and waits for it to go.
stop_server() {
    if [ -n "${server:-}" ]; then
        kill "$server" 2>/dev/null
        wait "$server" 2>/dev/null || true
        server=""
    fi
}

# A process's CPU so far, in clock ticks (user + system, all its threads).
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Busy clock ticks of one CPU so far: the time since boot that it was not idle (nor in
# iowait or stolen), whichever task or interrupt it went to. Not the sum of the busy
# fields of /proc/stat: those are sampled at the tick, and a core that sleeps and wakes
# thousands of times a second (a server under churn) is mostly idle at its ticks and loses
# the rest (measured here: 2 busy and 312 idle ticks of 400 on a core whose server alone
# used 78), while idle time is measured at each entry and exit.
cpu_busy_ticks() {
    awk -v cpu="cpu$1" -v up="$(cut -d' ' -f1 /proc/uptime)" \
        '$1 == cpu {printf "%d\n", up * 100 - $5 - $6 - $9}' /proc/stat
}

# All clock ticks of one CPU so far, busy or not: the time since boot, steal excluded as
# from the busy ones.
cpu_all_ticks() {
    awk -v cpu="cpu$1" -v up="$(cut -d' ' -f1 /proc/uptime)" \
        '$1 == cpu {printf "%d\n", up * 100 - $9}' /proc/stat
}
