"""`make audit`: known vulnerabilities in the locked versions (requirements-dev.lock).

    python .ci/audit.py LOCK IGNORE_FILE

pip-audit (pinned in the lock) asks PyPI's per-release JSON API
(``/pypi/NAME/VERSION/json``). Where that API is not served, as on this project's
machines (their registry access answers ``/simple/`` and ``/pypi/NAME/json``, and
404 for per-release JSON), pip-audit skips every dependency and still says "No
known vulnerabilities found". So each skipped pin is looked up again in PyPI's
project JSON (``/pypi/NAME/json``), whose ``vulnerabilities`` are the same advisory
data (PyPA advisory database, via OSV) for the project's latest release: a pin at
the latest release is audited that way, and any other is listed as NOT audited.

Exit 1 on any vulnerability not ignored in IGNORE_FILE (IDs or their aliases, one a
line, ``#`` comments), or when nothing could be audited at all; exit 0 otherwise,
listing every pin that could not be audited. ``KYSO_AUDIT_STRICT=1`` also fails
on those.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PYPI = "https://pypi.org/pypi/{name}/json"


def ignored(path: Path) -> set[str]:
    ids = set()
    for line in path.read_text().splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            ids.add(word)
    return ids


def pins(lock: Path) -> dict[str, str]:
    text = re.sub(r"\\\n", " ", lock.read_text())
    out = {}
    for line in text.splitlines():
        m = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def project_json(name: str) -> dict[str, Any]:
    for attempt in range(3):
        try:
            with urllib.request.urlopen(PYPI.format(name=name), timeout=30) as r:
                data: dict[str, Any] = json.load(r)
                return data
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError):
            if attempt == 2:
                raise
            time.sleep(2 ** attempt)
    raise AssertionError("unreachable")


def main(lock: Path, ignore_file: Path) -> int:
    ignore = ignored(ignore_file)
    pinned = pins(lock)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "pip-audit.json"
        cmd = [str(Path(sys.executable).parent / "pip-audit"), "--progress-spinner", "off",
               "--disable-pip", "--require-hashes", "-r", str(lock), "-f", "json",
               "-o", str(report)]
        for vid in sorted(ignore):
            cmd += ["--ignore-vuln", vid]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode not in (0, 1) or not report.is_file():
            print(f"audit: pip-audit failed ({r.returncode}): {r.stderr.strip()}")
            return 1
        deps = json.loads(report.read_text())["dependencies"]
    found: list[str] = []
    audited, unaudited = [], []
    skipped = []
    for d in deps:
        if "skip_reason" in d:
            skipped.append(d["name"])
            continue
        audited.append(d["name"])
        for v in d.get("vulns", []):
            found.append(f"{d['name']} {d['version']}: {v['id']} (fixed in "
                         f"{', '.join(v.get('fix_versions', [])) or 'no release yet'})")
    for name in skipped:  # pip-audit could not ask PyPI: the project JSON, where it applies
        key = re.sub(r"[-_.]+", "-", name).lower()
        version = pinned.get(key)
        try:
            data = project_json(key)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            unaudited.append(f"{name} {version} (PyPI unreachable: {exc})")
            continue
        latest = data["info"]["version"]
        if version != latest:
            unaudited.append(f"{name} {version} (not the latest release, {latest}: no "
                             "per-release advisory data reachable)")
            continue
        audited.append(name)
        for v in data.get("vulnerabilities") or []:
            if v.get("withdrawn") or {v["id"], *v.get("aliases", [])} & ignore:
                continue
            found.append(f"{name} {version}: {v['id']} {v.get('aliases', [])} (fixed in "
                         f"{', '.join(v.get('fixed_in') or []) or 'no release yet'})")
    print(f"audit: {len(audited)} of {len(deps)} locked distributions audited "
          f"({len(deps) - len(skipped)} by pip-audit, {len(audited) - len(deps) + len(skipped)} "
          "through PyPI's project JSON)")
    for line in unaudited:
        print(f"audit: NOT audited: {line}")
    for line in found:
        print(f"audit: VULNERABLE: {line}")
    if found:
        print("audit: move the pin (make lock LOCK_ARGS='--upgrade-package NAME') or, if it "
              f"does not apply, add the ID to {ignore_file} with the date and why")
        return 1
    if not audited:
        print("audit: nothing could be audited")
        return 1
    if unaudited and os.environ.get("KYSO_AUDIT_STRICT") == "1":
        return 1
    print("audit: no known vulnerabilities in what was audited")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
