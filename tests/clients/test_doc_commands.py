"""Every `kyso …` command line quoted in README.md and docs/ names a command that exists,
with options it has: a doc command that stops working (a renamed option, a command that
moved, `kyso bench --raw`) fails here (issue 15, "docs that are true").

Lines are read from code blocks and `inline code`; a synopsis line may use placeholders
(CODE, FILE, [--opt ...], a|b alternatives): only the command path and the --options are
checked, against click's own command tree."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from clients.cli import main

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
        inline = re.findall(r"`(kyso [^`]+)`", text)
        for line in [ln for b in blocks for ln in b.splitlines()] + inline:
            line = line.strip().lstrip("$ ").split("  #")[0].split(" # ")[0]
            for part in re.split(r"\s*(?:&&|\||;)\s*(?=kyso |\.venv/bin/kyso |\$\(KYSO\) )",
                                 line):
                part = re.sub(r"^(\.venv/bin/|\$\(KYSO\) |\$K )", "", part.strip())
                if part.startswith("kyso ") and "kyso serve --config kyso.toml" not in doc.name:
                    found.append((f"{doc.relative_to(ROOT)}", part))
    return found


def _alternatives(line: str) -> list[list[str]]:
    """The command lines a synopsis line stands for, as words: ``[--a X | --b Y]`` keeps
    both options, ``--a|--b`` both names, and ``kyso g x A | y B`` is ``kyso g x A`` and
    ``kyso g y B``."""
    line = line.replace("\\|", "|")
    line = re.sub(r"\[([^\]]*)\]", lambda m: " " + m.group(1).replace("|", " ") + " ", line)
    parts = [p.strip() for p in line.split(" | ")]
    try:
        first = shlex.split(parts[0])
    except ValueError:  # an unbalanced quote in a synopsis: split on blanks
        first = parts[0].split()
    out = [first]
    for part in parts[1:]:
        words = part.split()
        if not words:
            continue
        # a sibling of the first line's last command: same parent path
        depth = next((i for i, w in enumerate(first) if w == words[0]), None)
        parent = first[:-1] if depth is None else first[:depth]
        cut = _path_length(first)
        out.append(first[:max(cut - 1, 1)] + words if depth is None else parent + words)
    return [[x for w in ws for x in (w.split("|") if w.startswith("-") else [w])]
            for ws in out]


def _path_length(words: list[str]) -> int:
    """How many leading words of ``kyso …`` are command names."""
    cmd: click.Command = main
    n = 1
    for w in words[1:]:
        if not isinstance(cmd, click.Group) or w.startswith("-"):
            break
        sub = cmd.get_command(click.Context(cmd), w)
        if sub is None:
            break
        cmd, n = sub, n + 1
    return n


def _placeholder(word: str) -> bool:
    return (word in ("…", "...", "ARGS") or not any(c.islower() for c in word)
            or "|" in word)


def _check(words: list[str]) -> str | None:
    """Why ``kyso WORDS`` does not name a real command with real options, or None."""
    cmd: click.Command = main
    path = ["kyso"]
    params = {o: p for p in main.params for o in (*p.opts, *p.secondary_opts)}
    i = 1
    while i < len(words):
        w = words[i]
        if w.startswith("-"):
            name = w.split("=", 1)[0]
            if name in ("-h", "--help"):
                i += 1
                continue
            param = params.get(name)
            if param is None:
                return f"{' '.join(path)}: no option {name}"
            takes_value = (isinstance(param, click.Option) and not param.is_flag
                           and not param.count and "=" not in w)
            i += 2 if takes_value else 1
            continue
        if isinstance(cmd, click.Group):
            sub = cmd.get_command(click.Context(cmd), w)
            if sub is None and cmd.name == "timestamp":  # `kyso timestamp FILE`
                sub = cmd.get_command(click.Context(cmd), "create")
                assert sub is not None
                cmd = sub
                params |= {o: p for p in sub.params for o in (*p.opts, *p.secondary_opts)}
                continue
            if sub is None:
                if _placeholder(w):
                    i += 1
                    continue
                return f"{' '.join(path)}: no command {w!r}"
            cmd = sub
            path.append(w)
            params |= {o: p for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        i += 1
    return None


LINES = _command_lines()


def test_the_docs_quote_commands() -> None:
    assert len(LINES) > 80, LINES


def test_every_quoted_command_exists_with_its_options() -> None:
    wrong = [f"{doc}: {line}\n    {why}" for doc, line in LINES
             for words in _alternatives(line) if (why := _check(words))]
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize(("line", "why"), [
    ("kyso bench --raw", "kyso bench: no option --raw"),  # docs/deployment.md had it
    ("kyso admin key rotat CODE", "kyso admin key: no command 'rotat'"),
    ("kyso sign cms FILE --agency CODE --nope", "kyso sign cms: no option --nope"),
])
def test_the_check_finds_a_stale_command(line: str, why: str) -> None:
    assert [_check(words) for words in _alternatives(line)] == [why]
