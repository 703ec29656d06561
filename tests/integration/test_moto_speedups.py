"""local.moto_speedups changes how much CPU moto spends, never what it answers.

The same DynamoDB calls (updates of every kind, conditions, the errors each check raises, the same
expression again with other values, transactions, filtered reads) run on moto in two fresh
interpreters, one with the speed-ups installed and one without; every answer, the table's items and
its stream records must be the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(speedups: bool) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.moto_scenario", *(["--speedups"] if speedups else [])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@pytest.fixture(scope="module")
def answers() -> tuple[dict[str, Any], dict[str, Any]]:
    return _run(speedups=False), _run(speedups=True)


def test_the_scenario_reaches_every_kind_of_answer(answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
    plain, _ = answers
    codes = {answer[2]["Code"] for answer in plain["answers"] if answer[0] == "error"}
    assert {"ValidationException", "ConditionalCheckFailedException", "TransactionCanceledException"} <= codes
    assert sum(answer[0] == "ok" for answer in plain["answers"]) >= 20
    assert {record[0] for record in plain["stream"]} == {"INSERT", "MODIFY", "REMOVE"}


def test_moto_answers_the_same_with_the_speedups(answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
    plain, fast = answers
    for number, (expected, got) in enumerate(zip(plain["answers"], fast["answers"], strict=True)):
        assert got == expected, f"call {number} differs"
    assert fast["items"] == plain["items"]
    assert fast["stream"] == plain["stream"]
