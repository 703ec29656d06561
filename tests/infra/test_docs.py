"""The documents point at what exists: every repository path they name, every test they tell you to
run, and the licence they name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "CONTRIBUTING.md", "docs/architecture.md"]
# `layers/core/...`, `functions/*/app.py`, `domain/answers.py`: a path in backticks.
_PATH = re.compile(r"`((?:[\w.*-]+/)+[\w.*-]*)`|`([\w-]+\.(?:py|md|json|yaml|toml))`")
# Inside the layer, documents name modules relative to it (`domain/answers.py`, `bulksms/models.py`).
_BASES = (ROOT, ROOT / "layers/core", ROOT / "layers/core/bulksms")


GENERATED = {"bench/results.json"}  # written by `make bench`, not committed


def _exists(name: str) -> bool:
    return any(any(base.glob(name.rstrip("/"))) for base in _BASES)


@pytest.mark.parametrize("doc", DOCS)
def test_named_paths_exist(doc: str) -> None:
    text = (ROOT / doc).read_text()
    names = {a or b for a, b in _PATH.findall(text)}
    names = {n for n in names if not n.startswith(("http", "v1/", "/", ".venv")) and "<" not in n}
    assert names, doc
    missing = sorted(n for n in names - GENERATED if not _exists(n))
    assert not missing, f"{doc} names paths that do not exist: {missing}"


def test_contributing_test_commands_select_tests() -> None:
    """Each `pytest` line names a test file that exists, and a test (`::name`, `-k word`) in it."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    commands = re.findall(r"^\.venv/bin/python -m pytest (.+)$", text, flags=re.MULTILINE)
    assert commands
    for command in commands:
        words = command.split()
        target = next(w for w in words if w.startswith("tests/"))
        path, _, name = target.partition("::")
        source = (ROOT / path).read_text()
        tests = re.findall(r"^def (test_\w+)", source, flags=re.MULTILINE)
        assert tests, command
        if name:
            assert name in tests, command
        if "-k" in words:
            keyword = words[words.index("-k") + 1]
            assert any(keyword in test for test in tests), command


def test_the_licence_is_mit() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in licence
