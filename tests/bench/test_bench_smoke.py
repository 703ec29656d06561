"""`python -m bench --smoke` runs every phase with tiny sizes and writes a complete results file, so the
benchmark harness cannot rot. No timing is asserted: the smoke sizes are too small to judge the goals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import HEADLINE_KEYS

ROOT = Path(__file__).resolve().parents[2]
GOALS = (
    "send_with_writes_vs_baseline",
    "send_with_writes_vs_baseline_one",
    "pooled_vs_new_connection",
    "import_vs_boto3",
    "api_100k_seconds",
    "api_100k_peak_mb",
)
PHASES = ("send", "connections", "store", "moto", "api", "cold", "e2e", "cost")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"bench --smoke failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done, json.loads(out.read_text())


@pytest.mark.timeout(360)
def test_every_headline_figure_is_there_and_positive(smoke: tuple) -> None:
    _, results = smoke
    assert results["smoke"] is True
    assert results["errors"] == {}
    for key in HEADLINE_KEYS:
        value = results.get(key)
        assert isinstance(value, int | float), f"{key} missing or not a number: {value!r}"
        assert value > 0, f"{key} = {value}"


@pytest.mark.timeout(360)
def test_every_goal_is_judged(smoke: tuple) -> None:
    _, results = smoke
    for key in GOALS:
        goal = results["goals"][key]
        assert goal["value"] is not None and goal["value"] > 0
        assert isinstance(goal["met"], bool)


@pytest.mark.timeout(360)
def test_raw_figures_of_every_phase(smoke: tuple) -> None:
    _, results = smoke
    raw = results["raw"]
    assert set(PHASES) <= set(raw)
    for provider in ("http", "one"):  # the send path is measured for each Clickatell API
        send = raw["send"][provider]
        assert send["ours"]["sim_recipients_accepted"] == results["config"]["send_recipients"]
        assert send["baseline"]["sim_recipients_accepted"] == results["config"]["send_recipients"]
        assert send["provider"] == provider
    assert raw["send"]["one"]["chunk_size"] == 100
    assert raw["connections"]["new_connection_per_post"]["sim_connections"] == raw["connections"]["posts"]
    assert raw["e2e"]["job_counts"]["submitted"] == results["config"]["e2e_recipients"]
    assert raw["e2e"]["callbacks"]["job_counts"]["delivered"] == results["config"]["callback_recipients"]
    cost = raw["cost"]
    assert cost["prices_as_of"] and cost["region"] == "us-east-1"
    assert all(v >= 0 for v in cost["cost_usd"].values())
    assert cost["per_recipient"]["dynamodb_wru"] >= 1  # at least the result item of every recipient


@pytest.mark.timeout(360)
def test_progress_and_table_on_stdout(smoke: tuple) -> None:
    done, _ = smoke
    for phase in (
        "phase 1 send path",
        "phase 2 connection reuse",
        "phase 3 cold start",
        "phase 4 API",
        "phase 5 end to end",
        "phase 6 cost model",
    ):
        assert phase in done.stdout
    assert "cost per million recipients" in done.stdout
