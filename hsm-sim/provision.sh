#!/usr/bin/env bash
# Idempotent SoftHSM2 provisioning for development, tests and CI.
#
#   hsm-sim/provision.sh [DIR]
#
# DIR (default: $KYSO_HSM_DIR, else ./var/hsm) receives:
#   softhsm2.conf   SoftHSM2 configuration pointing at DIR/tokens
#   tokens/         the token store
#   user.pin, so.pin  generated PINs (mode 0600) unless PINs come from the environment
#
# PIN sources, in order: KYSO_HSM_PIN / KYSO_HSM_SO_PIN, then the files named by
# KYSO_HSM_PIN_FILE / KYSO_HSM_SO_PIN_FILE, then DIR/user.pin / DIR/so.pin
# (generated on the first run). The token label is $KYSO_HSM_TOKEN_LABEL (default "kyso").
#
# Running it again changes nothing: an existing token with the label is kept.
# On success it prints shell assignments (SOFTHSM2_CONF=..., KYSO_HSM_*=...) that
# point kyso at the token; `eval "$(hsm-sim/provision.sh)"` uses them.
#
# PINs never appear on a command line (argv is world-readable in ps and
# /proc/PID/cmdline). softhsm2-util takes PINs only as arguments or from a
# terminal, so the token is initialised with OpenSC's pkcs11-tool, which reads
# `--so-pin env:NAME` / `--new-pin env:NAME` from its environment; the variable is
# set for that one command only (its /proc/PID/environ is readable by the same
# user and root, like the PIN files themselves).
set -euo pipefail

dir="${1:-${KYSO_HSM_DIR:-./var/hsm}}"
label="${KYSO_HSM_TOKEN_LABEL:-kyso}"

command -v pkcs11-tool >/dev/null || {
    echo "provision.sh: pkcs11-tool not found; install Debian's opensc package (apt-get install opensc)" >&2
    exit 1
}
module=""
for m in /usr/lib/softhsm/libsofthsm2.so "/usr/lib/$(uname -m)-linux-gnu/softhsm/libsofthsm2.so" \
         /usr/lib64/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so \
         /usr/local/lib/softhsm/libsofthsm2.so; do
    if [[ -f "$m" ]]; then module="$m"; break; fi
done
[[ -n "$module" ]] || {
    echo "provision.sh: the SoftHSM2 PKCS#11 module (libsofthsm2.so) was not found; install Debian's softhsm2 package (apt-get install softhsm2)" >&2
    exit 1
}

mkdir -p "$dir/tokens"
dir="$(cd "$dir" && pwd)"
chmod 700 "$dir" "$dir/tokens"

conf="$dir/softhsm2.conf"
if [[ ! -f "$conf" ]]; then
    cat >"$conf" <<CONF
# written by kyso hsm-sim/provision.sh
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
fi

read_pin() { # $1 = value from env, $2 = file from env, $3 = default file
    if [[ -n "$1" ]]; then printf '%s' "$1"; return; fi
    local f="${2:-$3}"
    if [[ ! -s "$f" ]]; then
        if [[ -n "$2" ]]; then echo "provision.sh: PIN file $2 is missing or empty" >&2; exit 1; fi
        (umask 077; od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$f")
    fi
    tr -d '\n' <"$f"
}
user_pin="$(read_pin "${KYSO_HSM_PIN:-}" "${KYSO_HSM_PIN_FILE:-}" "$dir/user.pin")"
so_pin="$(read_pin "${KYSO_HSM_SO_PIN:-}" "${KYSO_HSM_SO_PIN_FILE:-}" "$dir/so.pin")"

export SOFTHSM2_CONF="$conf"
p11() { pkcs11-tool --module "$module" "$@"; }

# "ready SLOT" (the token exists, user PIN set), "no-user-pin SLOT" (a run stopped
# between the two steps below), "free SLOT" (no such token; the first empty slot),
# or nothing.
token_state() {
    p11 --list-slots 2>/dev/null | awk -v want="$label" '
        /^Slot [0-9]+ \(0x[0-9a-fA-F]+\)/ { slot = $3; gsub(/[():]/, "", slot); lbl = ""; next }
        /^[[:space:]]*token label[[:space:]]*:/ {
            lbl = $0; sub(/^[^:]*:[[:space:]]*/, "", lbl); sub(/[[:space:]]+$/, "", lbl); next }
        /^[[:space:]]*token flags/ && lbl == want {
            print (($0 ~ /PIN initialized/) ? "ready" : "no-user-pin"), slot; found = 1; exit }
        /token state:[[:space:]]*uninitialized/ && free == "" { free = slot }
        END { if (!found && free != "") print "free", free }'
}

state="" slot=""
read -r state slot < <(token_state) || true
case "$state" in
    ready) ;;
    free|no-user-pin)
        if [[ "$state" == free ]]; then
            KYSO_PROVISION_SO_PIN="$so_pin" \
                p11 --slot "$slot" --init-token --label "$label" --so-pin env:KYSO_PROVISION_SO_PIN >/dev/null
        fi
        # Initialising the token gives it a new slot id: find it by its label.
        KYSO_PROVISION_SO_PIN="$so_pin" KYSO_PROVISION_USER_PIN="$user_pin" \
            p11 --token-label "$label" --login --login-type so --so-pin env:KYSO_PROVISION_SO_PIN \
                --init-pin --new-pin env:KYSO_PROVISION_USER_PIN >/dev/null
        echo "provision.sh: initialised token '$label' in $dir/tokens" >&2
        ;;
    *)
        echo "provision.sh: no token '$label' and no free slot in $dir/tokens ($conf)" >&2
        exit 1
        ;;
esac

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
printf 'export KYSO_HSM_TOKEN_LABEL=%q\n' "$label"
if [[ -z "${KYSO_HSM_PIN:-}" ]]; then
    printf 'export KYSO_HSM_PIN_FILE=%q\n' "${KYSO_HSM_PIN_FILE:-$dir/user.pin}"
fi
