#!/usr/bin/env bash
# Show, apply and restore the kernel settings a 32k-connection echo flood needs.
#
#   scripts/tune-kernel.sh show    [--profile default|small-buffers|million] [--only global|net]
#   scripts/tune-kernel.sh apply   [--profile default|small-buffers|million] [--only global|net] [--state FILE]
#   scripts/tune-kernel.sh restore [--state FILE]
#   scripts/tune-kernel.sh --help
#
# The keys and values come from sysctl/*.conf (the same files can be installed in
# /etc/sysctl.d). `apply` first saves the current values to a state file (kept if it
# exists, so a second apply does not overwrite the original values), then sets each key
# and reports it as changed, already set, or not settable here — it never stops half-way.
# The state file is written whole (a temporary file renamed into place) and ends with an
# end line: a file without it (empty, cut short, or from an older version) is refused by
# both `apply` and `restore` (exit 2), never taken as the saved values.
# `restore` writes back exactly what was saved. Inside a network namespace only that
# namespace's net.* keys are touched: global keys (fs.*, and net.* keys the namespace does
# not have) are neither saved, written nor restored there, so a test never changes its host.
# --only global keeps the keys only the host can set (fs.*, net.ipv4.tcp_mem), --only net
# the namespaced net.* keys. The million profile adds what 1-2 million connections need.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
confdir="$here/../sysctl"
# Keys whose value is a floor: a larger current value is left alone.
minimum_keys=" net.core.somaxconn net.ipv4.tcp_max_syn_backlog net.core.netdev_max_backlog net.core.rmem_max fs.file-max fs.nr_open net.ipv4.tcp_child_ehash_entries net.ipv4.tcp_max_tw_buckets "

# usage [STATUS]: --help (0) prints the whole header above on stdout; bad usage (2) prints
# its synopsis on stderr.
usage() {
    local status=${1:-2}
    if [ "$status" -eq 0 ]; then
        sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    else
        sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$status"
}

case ${1:-} in -h|--help) usage 0 ;; esac
command=${1:-}
[ -n "$command" ] || usage
shift
profile=default
only=""
state=""
while [ $# -gt 0 ]; do
    case $1 in
        --profile) profile=${2:-}; shift 2 || usage ;;
        --only) only=${2:-}; shift 2 || usage ;;
        --state) state=${2:-}; shift 2 || usage ;;
        -h|--help) usage 0 ;;
        *) echo "tune-kernel.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
case $profile in
    default) files=("$confdir/99-echo-flood.conf") ;;
    small-buffers) files=("$confdir/99-echo-flood.conf" "$confdir/99-echo-flood-small-buffers.conf") ;;
    million) files=("$confdir/99-echo-flood.conf" "$confdir/99-echo-flood-million.conf") ;;
    *) echo "tune-kernel.sh: unknown profile '$profile' (default, small-buffers, million)" >&2; exit 2 ;;
esac
case $only in
    ""|global|net) ;;
    *) echo "tune-kernel.sh: unknown --only '$only' (global: the fs.* keys, net: the net.* keys)" >&2; exit 2 ;;
esac

netns_id() { readlink /proc/self/ns/net 2>/dev/null | tr -dc '0-9'; }
# The host's network namespace: pid 1's, or where pid 1's cannot be read (a container may
# deny it, or pid 1 holds capabilities this shell lacks) a kernel thread's. Kernel threads
# run in the initial network namespace and are seen only from the initial pid namespace,
# so pid 2 flagged PF_KTHREAD (0x200000, field 9 of its stat) is the host's kthreadd.
# Prints nothing and fails when neither can be read.
host_netns() {
    readlink /proc/1/ns/net 2>/dev/null && return 0
    local flags
    flags=$(sed 's/^.*) //' /proc/2/stat 2>/dev/null | cut -d' ' -f7)
    [[ $flags =~ ^[0-9]+$ ]] && (( flags & 0x200000 )) || return 1
    readlink /proc/2/ns/net 2>/dev/null
}
# True inside a network namespace other than the host's, and also where the host's cannot
# be read: this may then not be the host, and a global key written here would change the
# host under it. Fails closed.
in_netns() {
    local init
    init=$(host_netns) || return 0
    [ "$(readlink /proc/self/ns/net)" != "$init" ]
}
# Where in_netns found this run, for the messages.
netns_where() {
    if host_netns > /dev/null; then
        echo "inside a network namespace"
    else
        echo "where neither pid 1's nor a kernel thread's network namespace can be read, so maybe not the host"
    fi
}
[ -n "$state" ] || state="/var/lib/echo-flood/sysctl-state.net$(netns_id)"

# net.* keys that exist only in the host's namespace (one value for the whole kernel).
host_only_keys=" net.ipv4.tcp_mem "
# True when KEY is in the --only scope (all keys without it): global is what only the host
# can set (fs.*, and the net.* keys no namespace has), net the rest.
in_scope() {
    local host_only=1
    [ "${1#net.}" != "$1" ] && [[ $host_only_keys != *" $1 "* ]] && host_only=0
    case $only in
        global) [ "$host_only" -eq 1 ] ;;
        net) [ "$host_only" -eq 0 ] ;;
        *) return 0 ;;
    esac
}

# Parallel arrays of key, recommended value and the reason (the comment above the key).
keys=(); wants=(); whys=()
load() {
    local file line why="" key value i
    for file in "${files[@]}"; do
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in
                '#'*) why="${why:+$why }${line#\# }" ;;
                *=*)
                    key=$(printf '%s' "${line%%=*}" | tr -d '[:space:]')
                    value=$(printf '%s' "${line#*=}" | tr -s '[:space:]' ' ' | sed 's/^ //; s/ $//')
                    if in_scope "$key"; then
                        # A later profile file overrides an earlier one's key in place.
                        i=0
                        while [ "$i" -lt "${#keys[@]}" ] && [ "${keys[$i]}" != "$key" ]; do
                            i=$((i + 1))
                        done
                        keys[i]=$key; wants[i]=$value; whys[i]=$why
                    fi
                    why="" ;;
                *) why="" ;;
            esac
        done < "$file"
    done
}

path_of() { printf '/proc/sys/%s' "${1//.//}"; }
current() {
    local p
    p=$(path_of "$1")
    [ -r "$p" ] || return 1
    tr -s '[:space:]' ' ' < "$p" | sed 's/^ //; s/ $//'
}
is_global() { [ "${1#net.}" = "$1" ]; }
# True for a global key while inside a network namespace: one this run must not touch.
host_key_here() { is_global "$1" && in_netns; }

# The state file: a first line, KEY=VALUE lines, and an end line whose absence marks a file
# that was never written whole.
state_first="# echo-flood tune-kernel.sh state: the values before apply"
state_end="# end of state"
# True when FILE is a whole state file.
state_whole() {
    local line n=0 ended=0
    while IFS= read -r line; do
        n=$((n + 1))
        [ "$ended" -eq 0 ] || return 1
        if [ "$n" -eq 1 ]; then
            [ "$line" = "$state_first" ] || return 1
        elif [ "$line" = "$state_end" ]; then
            ended=1
        else
            [[ $line =~ ^[a-z0-9_.-]+=.*$ ]] || return 1
        fi
    done < "$1"
    [ "$ended" -eq 1 ]
}
# Exits 2 unless the existing state file is whole, naming what to do ($1: what refuses).
need_whole_state() {
    state_whole "$state" && return 0
    echo "tune-kernel.sh: $1: state file $state is incomplete (empty, cut short by an interrupted apply, or not written by this version): it does not hold the original values" >&2
    echo "  check the current values with '$0 show', set any you know the originals of with sysctl -w, then remove $state and apply again" >&2
    exit 2
}
# Saves the current value of every key this run may change that the state file does not
# hold yet (all of them when there is none), whole or not at all: the saved lines and the
# new ones go to a temporary file beside it, flushed, then renamed over. So a second apply
# with a wider profile (or without --only) saves the keys the first did not, and one
# restore undoes both; a key saved once keeps its first value.
save_state() {
    local key cur tmp line saved=" "
    mkdir -p "$(dirname "$state")" || { echo "tune-kernel.sh: cannot create $(dirname "$state")" >&2; exit 1; }
    tmp=$(mktemp "$state.tmp.XXXXXX") || { echo "tune-kernel.sh: cannot write beside $state" >&2; exit 1; }
    if ! {
        printf '%s\n' "$state_first"
        if [ -e "$state" ]; then
            while IFS= read -r line; do
                [ "$line" = "$state_first" ] || [ "$line" = "$state_end" ] && continue
                printf '%s\n' "$line"
                saved+="${line%%=*} "
            done < "$state"
        fi
        for key in "${keys[@]}"; do
            host_key_here "$key" && continue
            [[ $saved == *" $key "* ]] && continue
            cur=$(current "$key") && printf '%s=%s\n' "$key" "$cur"
        done
        printf '%s\n' "$state_end"
    } > "$tmp" || ! sync "$tmp" || ! mv -f "$tmp" "$state"; then
        rm -f "$tmp"
        echo "tune-kernel.sh: cannot write $state" >&2
        exit 1
    fi
}
# True when the current value already meets the recommendation.
satisfied() {
    local key=$1 cur=$2 want=$3
    # tcp_tw_reuse 2, the kernel's default, reuses TIME_WAIT ports for loopback connections
    # only; every connection of a one-box flood is loopback, so 2 does what 1 is asked for.
    [ "$key" = net.ipv4.tcp_tw_reuse ] && [ "$want" = 1 ] && [ "$cur" = 2 ] && return 0
    if [[ $minimum_keys == *" $key "* ]] && [[ $cur =~ ^[0-9]+$ ]] && [[ $want =~ ^[0-9]+$ ]]; then
        [ "$cur" -ge "$want" ]
    else
        [ "$cur" = "$want" ]
    fi
}
need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "tune-kernel.sh: '$command' writes /proc/sys and needs root (try: sudo $0 $command)" >&2
        exit 1
    fi
}
write_key() {
    local p
    p=$(path_of "$1")
    [ -w "$p" ] || return 1
    { printf '%s\n' "$2" > "$p"; } 2>/dev/null || return 1
    [ "$(current "$1")" = "$2" ]
}

show_bsd() {
    echo "kqueue platform ($(uname -s)): the equivalent knobs (set with sysctl -w, persist in /etc/sysctl.conf):"
    local k
    for k in kern.maxfiles kern.maxfilesperproc kern.ipc.somaxconn net.inet.ip.portrange.first \
             net.inet.ip.portrange.last net.inet.ip.portrange.hifirst net.inet.ip.portrange.hilast; do
        printf '  %-32s %s\n' "$k" "$(sysctl -n "$k" 2>/dev/null || echo '(not on this system)')"
    done
    echo "  recommended: kern.maxfiles >= 2097152, kern.maxfilesperproc >= 1048576,"
    echo "  kern.ipc.somaxconn >= 32768, portrange first 15000 last 65000"
}

show() {
    local i cur verdict
    printf '%-32s %-14s %-14s %-8s %s\n' KEY CURRENT RECOMMENDED VERDICT WHY
    for i in "${!keys[@]}"; do
        if cur=$(current "${keys[$i]}"); then
            if satisfied "${keys[$i]}" "$cur" "${wants[$i]}"; then verdict=ok; else verdict=change; fi
        else
            cur="(absent)"; verdict=absent
        fi
        printf '%-32s %-14s %-14s %-8s %s\n' "${keys[$i]}" "$cur" "${wants[$i]}" "$verdict" "${whys[$i]}"
    done
    in_netns && echo "($(netns_where): apply changes only this namespace's net.* keys)"
    return 0
}

apply() {
    need_root
    local i key want cur changed=0 already=0 refused=0
    local note="saved current values to $state"
    if [ -e "$state" ]; then
        need_whole_state apply
        note="state file $state exists: keeping the values saved by the first apply (and saving any key it did not hold)"
    fi
    save_state
    echo "$note"
    for i in "${!keys[@]}"; do
        key=${keys[$i]}; want=${wants[$i]}
        if ! cur=$(current "$key"); then
            echo "not settable here: $key (not present in this kernel or namespace)"; refused=$((refused + 1))
        elif satisfied "$key" "$cur" "$want"; then
            echo "already set:       $key = $cur"; already=$((already + 1))
        elif host_key_here "$key"; then
            echo "not settable here: $key (global key; refused $(netns_where))"; refused=$((refused + 1))
        elif write_key "$key" "$want"; then
            echo "changed:           $key $cur -> $want"; changed=$((changed + 1))
        else
            echo "not settable here: $key (read-only or refused; stays $cur)"; refused=$((refused + 1))
        fi
    done
    echo "apply: $changed changed, $already already set, $refused not settable here"
}

restore() {
    need_root
    if [ ! -f "$state" ]; then
        echo "tune-kernel.sh: nothing to restore: no state file $state" >&2
        exit 1
    fi
    need_whole_state restore
    local line key value cur restored=0 same=0 refused=0
    while IFS= read -r line; do
        case $line in '#'*) continue ;; esac
        key=${line%%=*}; value=${line#*=}
        cur=$(current "$key") || cur=""
        if host_key_here "$key"; then
            echo "not settable here: $key (global key; skipped $(netns_where); stays $cur, saved $value)"; refused=$((refused + 1))
        elif [ "$cur" = "$value" ]; then
            echo "already as saved:  $key = $value"; same=$((same + 1))
        elif write_key "$key" "$value"; then
            echo "restored:          $key $cur -> $value"; restored=$((restored + 1))
        else
            echo "not settable here: $key (stays $cur, saved $value)"; refused=$((refused + 1))
        fi
    done < "$state"
    if [ "$refused" -eq 0 ]; then
        rm -f "$state"
    else
        echo "keeping $state: some keys could not be restored"
    fi
    echo "restore: $restored restored, $same already as saved, $refused not settable here"
}

case $(uname -s) in
    Linux) ;;
    Darwin|*BSD)
        [ "$command" = show ] && { show_bsd; exit 0; }
        echo "tune-kernel.sh: '$command' is Linux-only; on $(uname -s) set the knobs 'show' lists with sysctl -w" >&2
        exit 2 ;;
    *) echo "tune-kernel.sh: unsupported system $(uname -s)" >&2; exit 2 ;;
esac

load
case $command in
    show) show ;;
    apply) apply ;;
    restore) restore ;;
    *) echo "tune-kernel.sh: unknown command '$command'" >&2; usage ;;
esac
