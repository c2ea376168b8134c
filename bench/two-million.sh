#!/usr/bin/env bash
# Two million concurrent connections on one box, both ends (issue 17): open N connections at
# once, hold them all, and while every one is open run an open-model rate that echoes one
# 32 KiB message on each (every byte verified, latency p50/p99 from the schedule). Then it
# reports the memory per connection at each end (user space from RSS, kernel from the
# kernel's own counters) and every kernel limit met on the way, with the setting that
# passes it.
#
#   bench/two-million.sh [N]          N connections (default 2000000; 2M, 500k also read)
#   bench/two-million.sh --help
#
# Environment: RATE echoes per second (default 10000); DURATION seconds of the rate phase
# (default N / RATE: exactly one echo per connection); OUT the directory for the report,
# samples and charts (default /tmp/two-million-N); PLACEMENT loopback (default) or
# server-core: the inner namespace's loopback receive work steered (RPS) to the server's
# CPU 0, so the client's core runs only the client's system calls (bench/lib.sh).
#
# It runs in two throwaway network namespaces: the outer one gets the million profile's
# net.* keys (scripts/tune-kernel.sh) so the inner one, created from it, has its own
# 4M-bucket established hash; the inner one, where client and server run, gets the same
# keys. fs.file-max and net.ipv4.tcp_mem belong to the whole host: above HOST_KEYS_ABOVE
# connections (default 250000), or when fs.file-max cannot hold N, they are set on the host
# (tune-kernel.sh --only global) and restored when the script ends, however it ends; below
# it the host is not touched. Needs root and release binaries (BIN_DIR=target/debug runs
# the debug ones). One run at a time on a box: it uses most of it.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.." || exit 2
# shellcheck source=bench/lib.sh
source bench/lib.sh

usage() { usage_of "$here/two-million.sh" "${1:-2}" 9,10; }

case ${1:-} in -h|--help) usage 0 ;; esac
[ $# -le 1 ] || usage
n=$(printf '%s' "${1:-2000000}" | sed 's/[Mm]$/000000/; s/[kK]$/000/')
[[ $n =~ ^[1-9][0-9]*$ ]] ||
    { echo "two-million.sh: N must be a positive count like 2000000, 2M or 500k, not '${1:-}'" >&2; exit 2; }
rate=${RATE:-10000}
[[ $rate =~ ^[1-9][0-9]*$ ]] || { echo "two-million.sh: RATE must be a positive whole number, not '$rate'" >&2; exit 2; }
duration=${DURATION:-$(( (n + rate - 1) / rate ))}
placement=${PLACEMENT:-loopback}
case $placement in
    loopback) rps_cpus=0 ;;
    server-core) rps_cpus=1 ;;
    *) echo "two-million.sh: PLACEMENT must be loopback or server-core, not '$placement'" >&2; exit 2 ;;
esac
[[ $duration =~ ^[1-9][0-9]*$ ]] ||
    { echo "two-million.sh: DURATION must be whole seconds, not '$duration'" >&2; exit 2; }
out=${OUT:-/tmp/two-million-$n}
[ "$(id -u)" -eq 0 ] || { echo "two-million.sh: needs root (network namespaces, sysctls)" >&2; exit 2; }
need_release
command -v nstat >/dev/null || { echo "two-million.sh: needs nstat (apt-get install iproute2)" >&2; exit 2; }
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)

# Each process holds at most this many connections (the hard open-file limit is 20,000).
per_process=19000
processes=$(( (n + per_process - 1) / per_process ))
outer=echo-flood-2m-$$
host_state=$out/host-sysctl.state
raised_host=0

# shellcheck disable=SC2317 # Called by the EXIT trap.
cleanup() {
    ip netns del "$outer" 2>/dev/null
    if [ "$raised_host" -eq 1 ]; then
        scripts/tune-kernel.sh restore --state "$host_state" | sed 's/^/host: /'
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fs.file-max: both ends of every connection, plus what the box already has open.
need_files=$(( 2 * n + $(cut -f1 /proc/sys/fs/file-nr) + 50000 ))
file_max=$(cat /proc/sys/fs/file-max)
host_keys_above=${HOST_KEYS_ABOVE:-250000}
if [ "$file_max" -lt "$need_files" ] || [ "$n" -gt "$host_keys_above" ]; then
    echo "$n connections: setting the host's fs.file-max and net.ipv4.tcp_mem until this script ends"
    # A state left by a run that could not restore holds the host's real values: kept, so
    # this apply adds to it and the restore below puts those back, not this run's.
    raised_host=1
    scripts/tune-kernel.sh apply --profile million --only global --state "$host_state" | sed 's/^/host: /'
    file_max=$(cat /proc/sys/fs/file-max)
    if [ "$file_max" -lt "$need_files" ]; then
        echo "two-million.sh: fs.file-max is $file_max, below the $need_files this run needs: lower N" >&2
        exit 1
    fi
fi

ip netns add "$outer" || exit 1
ip netns exec "$outer" scripts/tune-kernel.sh apply --profile million --only net \
    --state "$out/outer-sysctl.state" > "$out/outer-sysctl.txt" || exit 1

# The inner namespace's own script: apply the profile, sample, run, count the limits.
inner=$(cat <<'INNER'
set -u
out=$1; n=$2; processes=$3; rate=$4; duration=$5; bin=$6; rps_cpus=$7
mount -t sysfs sysfs /sys 2>/dev/null
ip link set lo up || exit 1
echo "$rps_cpus" > /sys/class/net/lo/queues/rx-0/rps_cpus || exit 1
scripts/tune-kernel.sh apply --profile million --only net --state "$out/inner-sysctl.state" \
    > "$out/inner-sysctl.txt" || exit 1
for key in tcp_ehash_entries tcp_max_tw_buckets tcp_max_syn_backlog ip_local_port_range; do
    printf 'net.ipv4.%s = %s\n' "$key" "$(tr -s '\t ' ' ' < /proc/sys/net/ipv4/$key)"
done > "$out/limits-in-force.txt"
printf 'net.core.somaxconn = %s\nfs.file-max = %s\n' "$(cat /proc/sys/net/core/somaxconn)" \
    "$(cat /proc/sys/fs/file-max)" >> "$out/limits-in-force.txt"
printf 'lo rps_cpus = %s (0: receive work on the sending core; 1: on the server'"'"'s CPU 0)\n' \
    "$(cat /sys/class/net/lo/queues/rx-0/rps_cpus)" >> "$out/limits-in-force.txt"
script_pid=$$
# Samples every half second: time, sockets in this namespace, TCP buffer pages (global), memory (kB),
# descriptors, and the resident memory (kB) of every echo-server and flood-client process.
sample() {
    local inuse mem
    read -r _ _ inuse _ _ _ _ _ _ _ mem < <(grep '^TCP:' /proc/net/sockstat)
    printf '%s %s %s %s %s %s %s %s\n' "$(date +%s)" "$inuse" "$mem" \
        "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)" \
        "$(awk '/^Slab:/ {print $2}' /proc/meminfo)" "$(cut -f1 /proc/sys/fs/file-nr)" \
        "$(ps -C echo-server -o rss= | awk '{s += $1} END {print s + 0}')" \
        "$(ps -C flood-client -o rss= | awk '{s += $1} END {print s + 0}')"
}
echo "time sockets tcp_mem_pages mem_available_kb slab_kb files server_rss_kb client_rss_kb" \
    > "$out/samples.txt"
sample >> "$out/samples.txt"
cat /proc/slabinfo > "$out/slabinfo-before.txt"
(
    # Bounded by the script it samples for: a Ctrl-C that ends it ends this too.
    peak=0
    while kill -0 "$script_pid" 2>/dev/null && sleep 0.5; do
        line=$(sample)
        echo "$line" >> "$out/samples.txt"
        sockets=$(echo "$line" | cut -d' ' -f2)
        if [ "$peak" -eq 0 ] && [ "$sockets" -ge $((2 * n)) ]; then
            cat /proc/slabinfo > "$out/slabinfo-held.txt"; peak=1
        fi
    done
) &
sampler=$!
trap 'kill "$sampler" 2>/dev/null' EXIT
nstat -n
"$bin/flood-client" --spawn-server --pin -c "$n" --chunk 32KiB -p "$processes" \
    --timeout 300s --rate "$rate" --duration "${duration}s" --json \
    > "$out/report.json" 2> "$out/summary.txt"
status=$?
kill "$sampler" 2>/dev/null
nstat > "$out/nstat.txt"
cat /proc/sys/net/netfilter/nf_conntrack_count > "$out/conntrack-count.txt" 2>/dev/null
exit "$status"
INNER
)
echo "two-million: $n connections over $processes client processes, then $rate echoes/s for ${duration}s ($placement); output in $out"
ip netns exec "$outer" unshare -n -m --propagation private \
    bash -c "$inner" two-million "$out" "$n" "$processes" "$rate" "$duration" "$bin" "$rps_cpus"
status=$?
printf 'net.ipv4.tcp_mem = %s (pages; global, the host'"'"'s)\n' "$(tr -s '\t ' ' ' < /proc/sys/net/ipv4/tcp_mem)" \
    >> "$out/limits-in-force.txt"
cat "$out/summary.txt"
python3 bench/two-million-report.py "$out" "$n" | tee "$out/limits-and-memory.txt"
exit "$status"
