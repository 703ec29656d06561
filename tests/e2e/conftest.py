"""One local stack per session, started the way a user starts it (`python -m local.run`, a subprocess on
free ports) and driven over HTTP only: the public API, and the simulator's /_sim/* controls. Every API
answer is checked against openapi.json (tests/e2e/contract.py).

Its output goes to a file; a failing test shows the file's tail. At the end the stack gets SIGINT and
must exit with status 0 within STOP_TIMEOUT_S.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.e2e.contract import check_answer

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "local-dev-key"  # local.run's default, so the README's commands work unchanged
READY_LINE = "bulksms local stack is up"  # printed once the stack serves and handles SIGINT
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
JOB_FINAL_STATUSES = ("completed", "cancelled", "failed")
_STACK_KEY = pytest.StashKey["E2EStack"]()


def free_ports(count: int) -> list[int]:
    """Distinct free ports: all bound to port 0 at once, then released for the stack to take."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def numbers(count: int, start: int) -> list[str]:
    """Valid South African mobile numbers 2782 + 7 digits; give each test its own `start` block."""
    return [f"2782{start + i:07d}" for i in range(count)]


@dataclass
class E2EStack:
    process: subprocess.Popen[bytes]
    log_path: Path
    api_url: str
    sim_url: str
    moto_url: str
    http: urllib3.PoolManager

    # -- the public API ---------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = API_KEY,
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if api_key is not None:
            sent["x-api-key"] = api_key
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        response = self.http.request(method, self.api_url + path, body=payload, headers=sent)
        check_answer(method, path, response.status, response.headers.get("Content-Type", ""), response.data)
        try:
            return response.status, json.loads(response.data) if response.data else None
        except ValueError:  # not JSON: the test shows what came instead
            return response.status, response.data.decode("utf-8", "replace")

    def send(self, body: Mapping[str, Any]) -> dict[str, Any]:
        status, answer = self.api("POST", "/v1/messages", dict(body))
        assert status == 202, answer
        return dict(answer)

    def job(self, job_id: str) -> dict[str, Any]:
        status, job = self.api("GET", f"/v1/messages/{job_id}")
        assert status == 200, job
        return dict(job)

    def wait_finished(self, job_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
        """Poll until no recipient is `queued` and the job has a final status."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["counts"]["queued"] == 0 and job["status"] in JOB_FINAL_STATUSES:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} not finished after {timeout_s} s: {job}")
            time.sleep(0.2)

    def recipients(self, job_id: str, limit: int = 1000, **query: str) -> list[dict[str, Any]]:
        """Every recipient result, walking the pages with limit/next_token."""
        items: list[dict[str, Any]] = []
        fields: dict[str, str] = {"limit": str(limit), **query}
        for _ in range(10_000):
            path = f"/v1/messages/{job_id}/recipients"
            response = self.http.request(
                "GET",
                self.api_url + path,
                fields=fields,
                headers={"x-api-key": API_KEY},
            )
            check_answer(
                "GET", path, response.status, response.headers.get("Content-Type", ""), response.data
            )
            page = json.loads(response.data)
            assert response.status == 200, page
            assert len(page["items"]) <= limit
            items.extend(page["items"])
            if not page["next_token"]:
                return items
            fields["next_token"] = page["next_token"]
        raise AssertionError("pagination did not end")

    # -- the Clickatell simulator's controls -------------------------------------------------------

    def sim(self, method: str, path: str, body: Any = None, **fields: str) -> Any:
        response = self.http.request(
            method,
            f"{self.sim_url}/_sim/{path}",
            body=json.dumps(body).encode() if body is not None else None,
            fields=fields or None,
        )
        answer = json.loads(response.data)
        assert response.status == 200, answer
        return answer

    def sim_stats(self) -> dict[str, Any]:
        return dict(self.sim("GET", "stats"))

    def sim_requests(self) -> list[dict[str, Any]]:
        """The simulator's log of recent sendmsg requests: method, params (no password), numbers."""
        return list(self.sim("GET", "requests")["requests"])

    def sim_requests_for(self, job_id: str) -> list[dict[str, Any]]:
        """The sendmsg requests of one job: our job id is the `climsgid` sent to Clickatell."""
        return [r for r in self.sim_requests() if r["params"].get("climsgid") == job_id]

    def sim_messages(self, to: str) -> list[dict[str, Any]]:
        return list(self.sim("GET", "messages", to=to)["messages"])

    # -- output -------------------------------------------------------------------------------------

    def output(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_stack(log_path: Path, *extra: str) -> E2EStack:
    """`python -m local.run` on free ports, with `extra` arguments (e.g. --parameter Name=Value)."""
    api_port, moto_port, sim_port = free_ports(3)
    env = {k: v for k, v in os.environ.items() if k not in ("SIM_FAULTS", "LOCAL_API_KEY", "LOCAL_LOG_LEVEL")}
    command = [
        sys.executable,
        "-m",
        "local.run",
        "--api-port",
        str(api_port),
        "--moto-port",
        str(moto_port),
        "--sim-port",
        str(sim_port),
        "--sim-seed",
        "7",
        "--sweep-every",
        "10",
        *extra,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack = E2EStack(
        process=process,
        log_path=log_path,
        api_url=f"http://127.0.0.1:{api_port}",
        sim_url=f"http://127.0.0.1:{sim_port}",
        moto_url=f"http://127.0.0.1:{moto_port}",
        http=urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=2, read=60)),
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the local stack exited with {process.returncode} at startup:\n{stack.output()}"
            )
        if READY_LINE in stack.output(200):
            try:
                status, _ = stack.api("GET", "/v1/messages/" + "0" * 32)
            except urllib3.exceptions.HTTPError:
                status = 0
            if status == 404:
                return stack
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(
                f"the local stack did not answer within {START_TIMEOUT_S} s:\n{stack.output()}"
            )
        time.sleep(0.2)


def stop_stack(stack: E2EStack) -> tuple[int | None, float]:
    began = time.monotonic()
    stack.process.send_signal(signal.SIGINT)
    try:
        code: int | None = stack.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        code = None
        stack.process.kill()
        stack.process.wait()
    return code, time.monotonic() - began


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    running = start_stack(tmp_path_factory.mktemp("e2e") / "local-stack.log")
    request.config.stash[_STACK_KEY] = running
    try:
        yield running
    finally:
        running.http.clear()
        code, seconds = stop_stack(running)
    assert code == 0, (
        f"after SIGINT the stack exited with {code} after {seconds:.1f} s "
        f"(None: still running after {STOP_TIMEOUT_S} s, killed):\n{running.output()}"
    )
    assert "stopping..." in running.output(20), running.output()


@pytest.fixture
def sim_reset(stack: E2EStack) -> E2EStack:
    """The simulator with no faults, no history and zeroed counters; the API's data stays."""
    stack.sim("POST", "reset")
    stats = stack.sim_stats()
    assert stats["requests"] == 0 and stats["recipients_accepted"] == 0, stats
    return stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    running = item.config.stash.get(_STACK_KEY, None)
    if report.failed and running is not None and item.path.is_relative_to(Path(__file__).parent):
        report.sections.append((f"local stack output (tail of {running.log_path})", running.output()))
    return report
