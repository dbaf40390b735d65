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
set -euo pipefail

dir="${1:-${KYSO_HSM_DIR:-./var/hsm}}"
label="${KYSO_HSM_TOKEN_LABEL:-kyso}"

command -v softhsm2-util >/dev/null || {
    echo "provision.sh: softhsm2-util not found; install Debian's softhsm2 package (apt-get install softhsm2)" >&2
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
if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label:[[:space:]]*${label}[[:space:]]*$"; then
    softhsm2-util --init-token --free --label "$label" --pin "$user_pin" --so-pin "$so_pin" >/dev/null
    echo "provision.sh: initialised token '$label' in $dir/tokens" >&2
fi

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
printf 'export KYSO_HSM_TOKEN_LABEL=%q\n' "$label"
if [[ -z "${KYSO_HSM_PIN:-}" ]]; then
    printf 'export KYSO_HSM_PIN_FILE=%q\n' "${KYSO_HSM_PIN_FILE:-$dir/user.pin}"
fi
