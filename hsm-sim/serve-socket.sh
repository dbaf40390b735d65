#!/usr/bin/env bash
# Serve a provisioned SoftHSM2 token over a Unix socket with p11-kit's server, so that
# nodes reach it through p11-kit-client.so the way they would reach a network HSM.
#
#   hsm-sim/serve-socket.sh [--background | --stop] [DIR]
#
# DIR (default: $KYSO_HSM_DIR, else ./var/hsm) must hold a token made by provision.sh.
# It receives p11-kit.sock (the socket, owner-only), p11-kit-server.pid and, with
# --background, p11-kit-server.log (the server's and its per-connection children's stderr).
# The token label is $KYSO_HSM_TOKEN_LABEL (default "kyso").
#
# Without --background the server runs in the foreground (Ctrl-C stops it). Either way the
# script prints shell assignments for a node on stdout:
#   KYSO_HSM_MODULE=.../p11-kit-client.so  P11_KIT_SERVER_ADDRESS=unix:path=DIR/p11-kit.sock
# A node must have P11_KIT_SERVER_ADDRESS in its environment before it loads the module
# (p11-kit-client.so reads it in C_GetFunctionList); it needs neither SOFTHSM2_CONF nor
# SoftHSM2 itself. If a server for DIR is already running, the script only prints the
# assignments. --stop terminates it; connections already open keep their child process
# until the node disconnects.
#
# How p11-kit serves: the server forks and execs p11-kit-remote for every connection, and
# that child loads SoftHSM2 (--provider) and exposes only the tokens matching the URI. The
# child inherits the server's environment, so SOFTHSM2_CONF must be set for the *server*;
# a client's SOFTHSM2_CONF is never seen. One connection is served by one single-threaded
# child: a node's threads share its socket and their calls run one at a time.
set -euo pipefail

SERVER=/usr/libexec/p11-kit/p11-kit-server                 # Debian package p11-kit
CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so  # Debian package p11-kit-modules
SOFTHSM=/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so   # Debian package libsofthsm2

mode=foreground
case "${1:-}" in
    --background) mode=background; shift ;;
    --stop) mode=stop; shift ;;
    -*) echo "usage: $0 [--background | --stop] [DIR]" >&2; exit 2 ;;
esac
dir="${1:-${KYSO_HSM_DIR:-./var/hsm}}"
label="${KYSO_HSM_TOKEN_LABEL:-kyso}"

die() { echo "serve-socket.sh: $*" >&2; exit 1; }
missing=()
[[ -x "$SERVER" ]] || missing+=("$SERVER (apt-get install p11-kit)")
[[ -f "$CLIENT" ]] || missing+=("$CLIENT (apt-get install p11-kit-modules)")
[[ -f "$SOFTHSM" ]] || missing+=("$SOFTHSM (apt-get install softhsm2)")
command -v softhsm2-util >/dev/null || missing+=("softhsm2-util (apt-get install softhsm2)")
((${#missing[@]} == 0)) || die "missing:$(printf '\n  %s' "${missing[@]}")"

[[ -f "$dir/softhsm2.conf" ]] || die "no token in $dir: run hsm-sim/provision.sh $dir first"
dir="$(cd "$dir" && pwd)"
sock="$dir/p11-kit.sock"
pidfile="$dir/p11-kit-server.pid"
# sockaddr_un.sun_path holds 107 bytes and a NUL; p11-kit fails without saying why.
((${#sock} < 108)) || die "socket path $sock is longer than 107 bytes: use a shorter DIR"

# The server's children read SOFTHSM2_CONF when a node connects: point it at DIR's token.
export SOFTHSM2_CONF="$dir/softhsm2.conf"
softhsm2-util --show-slots 2>/dev/null | grep -q "Label:[[:space:]]*${label}[[:space:]]*$" ||
    die "no token labelled '$label' in $dir (KYSO_HSM_TOKEN_LABEL): run hsm-sim/provision.sh"

# Percent-encode all but RFC 3986 unreserved characters (p11-kit decodes both the URI and
# the address), byte by byte.
pct() {
    local LC_ALL=C s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
            [A-Za-z0-9._~-]) out+="$c" ;;
            *) printf -v c '%%%02X' "'$c"; out+="$c" ;;
        esac
    done
    printf '%s' "$out"
}
address="unix:path=$(p="$(pct "$sock")"; printf '%s' "${p//%2F//}")"
uri="pkcs11:token=$(pct "$label")"

exports() {
    printf 'export KYSO_HSM_MODULE=%q\n' "$CLIENT"
    printf 'export P11_KIT_SERVER_ADDRESS=%q\n' "$address"
    printf 'export KYSO_HSM_TOKEN_LABEL=%q\n' "$label"
}

# The pid in the pid file, if that process is alive (not a zombie: an orphaned daemon may
# never be reaped in a container) and is the server of this socket.
running_pid() {
    local pid state
    pid="$(cat "$pidfile" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    state="$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-n $sock " || return 1
    printf '%s' "$pid"
}

if [[ "$mode" == stop ]]; then
    if pid="$(running_pid)"; then
        kill -TERM "$pid"
        for _ in $(seq 50); do running_pid >/dev/null || break; sleep 0.1; done
        running_pid >/dev/null && die "server $pid did not stop"
        echo "serve-socket.sh: stopped the server of $sock (pid $pid)" >&2
    else
        echo "serve-socket.sh: no server running for $sock" >&2
    fi
    rm -f "$pidfile"
    exit 0
fi

if pid="$(running_pid)" && [[ -S "$sock" ]]; then
    echo "serve-socket.sh: already serving '$label' on $sock (pid $pid)" >&2
    exports
    exit 0
fi
rm -f "$pidfile"

args=(--provider "$SOFTHSM" -n "$sock" "$uri")
if [[ "$mode" == foreground ]]; then
    exports
    echo "serve-socket.sh: serving '$label' on $sock in the foreground (Ctrl-C stops)" >&2
    echo "$$" >"$pidfile"   # exec keeps the pid
    exec "$SERVER" -f "${args[@]}" >&2   # it prints its own assignments too: keep stdout clean
fi

# The server prints "P11_KIT_SERVER_PID=<daemon pid>; ..." and its parent exits. The daemon
# closes stdout; its stderr goes to the log so it holds no caller's pipe open.
out="$("$SERVER" -s "${args[@]}" 2>>"$dir/p11-kit-server.log")" ||
    die "p11-kit-server failed; see $dir/p11-kit-server.log"
pid="$(sed -n 's/^P11_KIT_SERVER_PID=\([0-9]*\);.*/\1/p' <<<"$out")"
[[ -n "$pid" ]] || die "p11-kit-server printed no pid: $out"
echo "$pid" >"$pidfile"
# The daemon calls listen() after forking: wait until the kernel lists the socket as
# listening (flag __SO_ACCEPTCON, 00010000, in /proc/net/unix).
for _ in $(seq 50); do
    awk -v s="$sock" '$4 == "00010000" && $NF == s { f = 1 } END { exit !f }' /proc/net/unix &&
        break
    sleep 0.1
done
running_pid >/dev/null || die "p11-kit-server exited; see $dir/p11-kit-server.log"
echo "serve-socket.sh: serving '$label' on $sock (pid $pid, log $dir/p11-kit-server.log)" >&2
exports
