#!/usr/bin/env bash
# The installs kyso promises, from the built wheel (not the source tree), each in a
# clean venv with only what it declares, at the locked versions and hashes:
#   pip install kyso            the client library and the `kyso` client commands
#   pip install 'kyso[server]'  everything `kyso serve` imports, Alembic migrations included
# Each venv gets exactly the lock's entries that the wheel's metadata requires for that
# extra (scripts/lock_subset.py), installed with --require-hashes; an import the extra
# does not declare fails here. Run by `make check-extras` (.ci/run).
#
#   scripts/check_extras.sh [VENV]    VENV: the development venv (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=${1:-.venv}
PY="$(cd "$DEV" && pwd)/bin/python"
LOCK=requirements-dev.lock
tmp=$(mktemp -d /tmp/kyso-extras.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
pipq() { "$PY" -m pip -q --disable-pip-version-check "$@"; }

# The wheel, built with the locked setuptools (no unchecked build environment), from a
# copy of the tracked and unignored files: setuptools reuses ./build/lib, whose leftovers
# from an earlier build would end up in the wheel and hide a missing package-data entry.
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar --ignore-failed-read -cf - | tar -xf - -C "$tmp/src"
(cd "$tmp/src" && pipq wheel --no-deps --no-build-isolation -w "$tmp/dist" . >/dev/null)
wheel=$(echo "$tmp"/dist/kyso-*.whl)

# The migrations are package data: Alembic runs them from the installed package.
"$PY" - "$wheel" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
want = ["registry/db/migrations/env.py", "registry/db/migrations/script.py.mako",
        "registry/db/migrations/versions/0001_initial.py"]
missing = [n for n in want if n not in names]
versions = [n for n in names if n.startswith("registry/db/migrations/versions/")
            and n.endswith(".py")]
if missing:
    sys.exit(f"check_extras: the wheel lacks {missing}")
print(f"check_extras: the wheel has env.py, script.py.mako and {len(versions)} migrations")
EOF

# install NAME [EXTRA]: a venv with the wheel and the locked subset its metadata requires.
install() {
    local v="$tmp/$1" extra=${2:-}
    python3 -m venv --without-pip "$v"
    "$PY" scripts/lock_subset.py "$wheel" "$LOCK" $extra >"$tmp/$1.txt"
    # --no-compile: bytecode is written on first import anyway; it halves the install.
    pipq --python "$v/bin/python" install --no-compile --require-hashes -r "$tmp/$1.txt"
    pipq --python "$v/bin/python" install --no-compile --no-deps "$wheel"
    echo "check_extras: kyso${extra:+[$extra]}: $(grep -c '^[A-Za-z]' "$tmp/$1.txt") locked distributions"
}

# Imports run outside the source tree (-I, cwd $tmp), so they can only find the wheel.
run() { (cd "$tmp" && "$@"); }

install client
run "$tmp/client/bin/python" -I -c '
import importlib, pkgutil, clients, clients.cli
for m in pkgutil.walk_packages(clients.__path__, "clients."):
    importlib.import_module(m.name)
assert clients.__file__.startswith("'"$tmp"'"), clients.__file__
'
run "$tmp/client/bin/kyso" --help >/dev/null

install server server
run "$tmp/server/bin/python" -I -c '
import importlib, pkgutil
import signer.runtime.server, signer.runtime.host, signer.verify_service, tsa.http, registry.db.store
for pkg in ("signer", "registry", "tsa"):
    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
        if not m.name.startswith("registry.db.migrations"):  # run by Alembic, below
            importlib.import_module(m.name)
assert signer.__file__.startswith("'"$tmp"'"), signer.__file__
store = registry.db.store.RegistryStore("sqlite:///'"$tmp"'/kyso.db")
store.migrate()
store.close()
'
run "$tmp/server/bin/kyso" serve --help >/dev/null
echo "check_extras: ok ($((SECONDS - start)) s)"
