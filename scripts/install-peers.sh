#!/usr/bin/env bash
# Install what the peer servers of the comparison need (Debian packages, PyPI), and build
# the Go peer and the io_uring peer (C on liburing: gcc, liburing-dev). Anything that cannot be installed is skipped with a message; compare.sh
# then leaves that peer out. Safe to run again.
#
#   scripts/install-peers.sh [--help]
set -u
case ${1:-} in -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
case ${1:-} in '') ;; *) echo "install-peers.sh: unknown argument '$1' (it takes none; --help)" >&2; exit 2 ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/../target/peers"
mkdir -p "$out"
export DEBIAN_FRONTEND=noninteractive

apt_want=()
command -v go >/dev/null || apt_want+=(golang-go)
command -v node >/dev/null || apt_want+=(nodejs)
command -v escript >/dev/null || apt_want+=(erlang-base)
command -v iperf3 >/dev/null || apt_want+=(iperf3)
command -v taskset >/dev/null || apt_want+=(util-linux)
command -v gcc >/dev/null || apt_want+=(gcc)
[ -e /usr/include/liburing.h ] || apt_want+=(liburing-dev)
if [ ${#apt_want[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq >/dev/null 2>&1
        for pkg in "${apt_want[@]}"; do
            apt-get install -y -qq "$pkg" >/dev/null 2>&1 || echo "install-peers: could not install $pkg: skipping what needs it"
        done
    else
        echo "install-peers: not root: not installing ${apt_want[*]}"
    fi
fi

for pkg in uvloop twisted eventlet tornado gevent; do
    python3 -c "import $pkg" 2>/dev/null && continue
    python3 -m pip install -q "$pkg" >/dev/null 2>&1 || echo "install-peers: could not pip install $pkg: that peer is skipped"
done

# Built under a temporary name and renamed, so a compare.sh reading target/peers never
# meets half a binary; one that cannot be built is removed, not left stale.
if command -v go >/dev/null; then
    if (cd "$here/peers" && GOFLAGS=-mod=mod go build -o "$out/go-echo.$$" go-echo.go); then
        mv -f "$out/go-echo.$$" "$out/go-echo"
    else
        rm -f "$out/go-echo.$$" "$out/go-echo"
        echo "install-peers: could not build the Go peer: skipped"
    fi
else
    rm -f "$out/go-echo"
fi

if command -v gcc >/dev/null; then
    tmp="$out/uring-echo.$$"
    if why=$(gcc -O2 -Wall -Wextra -o "$tmp" "$here/peers/uring-echo.c" -luring 2>&1); then
        mv -f "$tmp" "$out/uring-echo"
    else
        rm -f "$tmp" "$out/uring-echo"
        echo "install-peers: could not build the io_uring peer (needs liburing-dev): skipped: $(printf '%s\n' "$why" | grep -m1 error)"
    fi
else
    rm -f "$out/uring-echo"
    echo "install-peers: no gcc: the io_uring peer is skipped"
fi

echo "install-peers: available peers:"
command -v node >/dev/null && echo "  node $(node --version)"
py=$(python3 -c 'import sys; print(sys.version.split()[0])')
echo "  asyncio (python $py)"
echo "  threads (python $py)"
for pkg in uvloop twisted eventlet tornado gevent; do
    v=$(python3 -c "import $pkg; print(getattr($pkg, '__version__', getattr($pkg, 'version', '?')))" 2>/dev/null) && echo "  $pkg $v"
done
command -v escript >/dev/null &&
    echo "  erlang OTP $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')"
[ -x "$out/go-echo" ] && echo "  go $(go version | awk '{print $3}')"
[ -x "$out/uring-echo" ] &&
    echo "  uring-c (liburing $(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo '?'))"
command -v iperf3 >/dev/null && echo "  iperf3 $(iperf3 --version | head -1 | awk '{print $2}') (ceiling)"
exit 0
