"""The README's "Run it locally" commands work as written against the running stack (only the ports
are changed), and what it says runs where is what `make local` starts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.run import config_from_args
from tests.e2e.conftest import ROOT, E2EStack

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
SECTION = "## Run it locally"
# Each curl also writes "HTTP <status> <method> <url>" to stderr; its output stays as written.
CURL_STATUS = (
    "curl() { command curl -w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n' \"$@\"; }\n"
)


def section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def json_documents(text: str) -> list[Any]:
    """The JSON documents in a stream of concatenated output (the API answers without a newline)."""
    decoder, docs, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        doc, index = decoder.raw_decode(text, index)
        docs.append(doc)
    return docs


def run_as_written(blocks: list[str], stack: E2EStack, cwd: Path) -> tuple[str, list[list[str]]]:
    """Run README bash blocks against the stack (only its ports changed); their output and each curl's
    `[status, method, url]`."""
    defaults = config_from_args([])
    script = "\n".join(blocks)
    for port, url in ((defaults.api_port, stack.api_url), (defaults.sim_port, stack.sim_url)):
        script = script.replace(f"http://127.0.0.1:{port}", url)
    hosts = set(re.findall(r"https?://[^/\s'\";]+", script))
    assert hosts <= {stack.api_url, stack.sim_url}, f"URLs the port substitution missed: {hosts}"
    ran = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + CURL_STATUS + script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr + ran.stdout
    calls = [line.split(" ", 3)[1:] for line in ran.stderr.splitlines() if line.startswith("HTTP ")]
    return ran.stdout, calls


@pytest.fixture(scope="module")
def local_section() -> str:
    return section(README.read_text(), SECTION)


def test_the_readme_says_what_make_local_starts(local_section: str) -> None:
    defaults = config_from_args([])
    assert f"http://127.0.0.1:{defaults.api_port}" in local_section
    assert f"http://127.0.0.1:{defaults.sim_port}" in local_section
    assert f"http://127.0.0.1:{defaults.moto_port}" in local_section
    assert f"x-api-key: {defaults.api_key}" in local_section
    assert f"token={defaults.callback_token}" in local_section
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^local: .*\n\t.*-m local\.run", makefile, flags=re.MULTILINE)
    assert re.search(r"^demo: .*\n\t.*-m local\.demo", makefile, flags=re.MULTILINE)
    intro = README.read_text().split("\n## ", 1)[0]
    assert "make demo" in intro and "make test" in intro  # the two commands come first


def test_the_curl_examples_work_as_written(local_section: str, sim_reset: E2EStack, tmp_path: Path) -> None:
    stack = sim_reset
    blocks = [block for block in bash_blocks(local_section) if not re.search(r"^make ", block, re.MULTILINE)]
    assert len(blocks) >= 2, "expected the curl examples in bash blocks"
    output, calls = run_as_written(blocks, stack, tmp_path)
    statuses = {
        (method, re.sub(r"[0-9a-f]{32}", "{job_id}", url.split("?")[0])): int(code)
        for code, method, url in calls
    }
    api, sim = stack.api_url, stack.sim_url
    assert statuses[("POST", f"{api}/v1/messages")] == 202
    assert statuses[("GET", f"{api}/v1/messages/{{job_id}}")] == 200
    assert statuses[("GET", f"{api}/v1/messages/{{job_id}}/recipients")] == 200
    # 202 while numbers are left to settle, 200 once nothing is, 409 once the job has finished.
    assert statuses[("DELETE", f"{api}/v1/messages/{{job_id}}")] in (200, 202, 409)
    for path in ("_sim/stats", "_sim/messages", "_sim/requests"):
        assert statuses[("GET", f"{sim}/{path}")] == 200
    for path in ("_sim/faults", "_sim/reset"):
        assert statuses[("POST", f"{sim}/{path}")] == 200

    docs = json_documents(output)
    accepted = next(doc for doc in docs if "accepted" in doc)
    assert accepted["status"] == "queued" and accepted["accepted"] == 2
    assert accepted["duplicates_removed"] == 1 and accepted["rejected_count"] == 1
    job = next(doc for doc in docs if "counts" in doc)
    assert job["job_id"] == accepted["job_id"] and job["counts"]["total"] == 2
    assert any("items" in doc for doc in docs)
    assert any("recipients_accepted" in doc for doc in docs)
    assert any("faults" in doc for doc in docs)
    assert stack.sim("GET", "faults")["faults"]["http_5xx"] == 0  # the last example resets them
