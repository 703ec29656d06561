"""`make demo`'s module: against the running stack, and on its own (it starts and stops a stack)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import urllib3

from tests.e2e.conftest import ROOT, E2EStack, free_ports

pytestmark = pytest.mark.e2e


def demo(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_demo_against_the_running_stack(sim_reset: E2EStack) -> None:
    ran = demo("--api-url", sim_reset.api_url, "--recipients", "2000", "--seed", "11")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = ran.stdout
    assert f"Using the API at {sim_reset.api_url}" in out and "starting the local stack" not in out
    assert "one message to 2,008 numbers (2,000 valid, 5 repeated, 3 invalid)" in out
    assert "accepted 2,000, duplicates removed 5, normalised 2, rejected 3" in out
    for number, reason in (
        ("0821234567", "leading 0"),
        ("27999000001", "not a valid number"),
        ("12345", "too short"),
    ):
        assert re.search(rf"rejected '{number}': .*{reason}", out), out
    assert "2,000/2,000 sent" in out
    assert re.search(r"Job completed in [\d.]+ s: 2,000 recipients, [\d,]+ recipients/s", out), out
    assert re.search(r"^  queued +0$", out, re.MULTILINE) and re.search(
        r"^  total +2,000$", out, re.MULTILINE
    )
    assert "none is left queued" in out
    stats = sim_reset.sim_stats()
    assert stats["recipients_accepted"] == 2000 and stats["duplicate_sends"] == 0


def test_demo_starts_and_stops_a_stack_when_none_answers() -> None:
    [port] = free_ports(1)
    url = f"http://127.0.0.1:{port}"

    ran = demo("--api-url", url, "--recipients", "300")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"Nothing answers at {url}: starting the local stack" in ran.stdout
    assert "300/300 sent" in ran.stdout and "none is left queued" in ran.stdout
    assert "Stopping the local stack" in ran.stdout
    with pytest.raises(urllib3.exceptions.HTTPError):  # stopped: nothing answers there any more
        urllib3.request("GET", url, retries=False, timeout=2)


def test_demo_fails_clearly_on_a_wrong_key(stack: E2EStack) -> None:
    ran = demo("--api-url", stack.api_url, "--api-key", "wrong", "--recipients", "10")

    assert ran.returncode == 1
    assert "demo failed: POST /v1/messages answered 403" in ran.stderr
