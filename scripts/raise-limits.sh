#!/usr/bin/env bash
# Raise the open-file limit for echo-flood runs.
#
#   . scripts/raise-limits.sh            raise THIS shell's soft limit to its hard limit
#   scripts/raise-limits.sh --install [--dest DIR]
#                                        also install sysctl/limits.d/99-echo-flood.conf
#                                        into DIR (default /etc/security/limits.d; root)
#   scripts/raise-limits.sh --help       this text
#
# It first tries to raise the hard limit to the drop-in's value, which needs
# CAP_SYS_RESOURCE; where that is refused it says so and what to do instead (--processes).
# Source it to change your shell; run it to see what it would do and to install.
# Written to be sourced: no `set -e`, no `exit` from a sourced shell.

(return 0 2>/dev/null) && ef_sourced=1 || ef_sourced=0

ef_main() {
    local here dropin want dest="/etc/security/limits.d" install=0 hard soft
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    dropin="$here/../sysctl/limits.d/99-echo-flood.conf"
    want=$(awk '$2 == "hard" && $3 == "nofile" {print $4; exit}' "$dropin")
    while [ $# -gt 0 ]; do
        case $1 in
            --install) install=1; shift ;;
            --dest)
                [ -n "${2:-}" ] || { echo "raise-limits.sh: --dest wants a folder (e.g. --dest /etc/security/limits.d)" >&2; return 2; }
                dest=$2; shift 2 ;;
            -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; return 0 ;;
            *) echo "raise-limits.sh: unknown argument '$1' (--install, --dest DIR)" >&2; return 2 ;;
        esac
    done

    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
        if ulimit -Hn "$want" 2>/dev/null; then
            echo "hard open-file limit raised: $hard -> $want"
            hard=$want
        else
            echo "hard open-file limit stays $hard: raising it needs CAP_SYS_RESOURCE, which this process lacks."
            echo "  One process holds about $((hard - 64)) connections. For more, split each side over processes:"
            echo "  echo-server --processes N and flood-client --processes N, N = connections / $((hard - 64)) rounded up."
            echo "  On a box you administer: scripts/raise-limits.sh --install, then log in again."
        fi
    fi
    soft=$(ulimit -Sn)
    if ulimit -Sn "$hard" 2>/dev/null; then
        echo "soft open-file limit: $soft -> $(ulimit -Sn) (hard $(ulimit -Hn))"
    else
        echo "soft open-file limit stays $soft (could not raise it to $hard)"
    fi
    if [ "$ef_sourced" -eq 0 ]; then
        echo "note: that changed only this script's own process; to raise your shell's limit, source it:"
        echo "  . scripts/raise-limits.sh"
    fi

    if [ "$install" -eq 1 ]; then
        if [ "$(id -u)" -ne 0 ] && [ "$dest" = /etc/security/limits.d ]; then
            echo "raise-limits.sh: --install writes $dest and needs root" >&2
            return 1
        fi
        if cmp -s "$dropin" "$dest/99-echo-flood.conf"; then
            echo "already installed: $dest/99-echo-flood.conf"
        elif mkdir -p "$dest" && cp "$dropin" "$dest/99-echo-flood.conf"; then
            echo "installed $dest/99-echo-flood.conf (nofile $want): takes effect at the next login"
        else
            echo "raise-limits.sh: could not install into $dest" >&2
            return 1
        fi
    fi
    return 0
}

ef_main "$@"
ef_status=$?
unset -f ef_main
if [ "$ef_sourced" -eq 1 ]; then
    unset ef_sourced
    return "$ef_status"
fi
exit "$ef_status"
