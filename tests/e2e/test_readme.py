"""Every Python example of README.md's client-library section runs, as written, against
a demo server (issue 15: the library's docstring example failed with UNAUTHENTICATED).
Each runs in a fresh interpreter, in a directory holding a copy of the README, with
KYSO_ENDPOINT and KYSO_TOKEN set as a user would."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import Server

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def _examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The Python client library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_section_has_examples() -> None:
    assert len(_examples()) >= 4


@pytest.mark.parametrize("index", range(len(_examples())))
def test_readme_example_runs(server: Server, tmp_path: Path, index: int) -> None:
    shutil.copy(README, tmp_path / "README.md")
    env = {k: v for k, v in server.env.items() if not k.startswith("KYSO_")}
    env.update(KYSO_ENDPOINT=server.endpoint, KYSO_TOKEN=server.token or "",
               PYTHONPATH=str(README.parent))
    code = _examples()[index]
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"README example {index + 1}:\n{code}\n{r.stdout}\n{r.stderr}"
    if "sign_cms_file(\"README.md\", agency=\"000.00.00.H13\")" in code:
        assert (tmp_path / "README.md.p7s").stat().st_size > 500
        assert r.stdout.strip() == "1", r.stdout  # PASSED
    if "timestamp_file" in code:
        assert (tmp_path / "README.md.tsr").stat().st_size > 500
    if "H99" in code:
        assert r.stdout.startswith("NOT_FOUND "), r.stdout
