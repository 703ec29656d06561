"""`make local` as a user meets it: its make variables, a port already taken, PARAMETERS pointing the
stack at another Clickatell, and Ctrl-C under load. Each test runs `python -m local.run` of its own."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import urllib3

from local.simulator import ClickatellSimulator
from local.stack import SIM_CREDENTIALS
from tests.e2e.conftest import API_KEY, READY_LINE, free_ports, numbers

ROOT = Path(__file__).resolve().parents[2]
PORT_IN_USE_EXIT_S = 30  # the bound for "a port already in use" to end the start
CTRL_C_EXIT_S = 10  # and for Ctrl-C to stop everything


@pytest.mark.parametrize("busy", ["--api-port", "--moto-port", "--sim-port"])
def test_a_port_in_use_is_one_line_naming_it_and_a_non_zero_exit(busy: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = dict(zip(("--api-port", "--moto-port", "--sim-port"), free_ports(3), strict=True))
        ports[busy] = port
        args = [str(part) for pair in ports.items() for part in pair]
        ran = subprocess.run(
            [sys.executable, "-m", "local.run", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=PORT_IN_USE_EXIT_S,
        )  # fmt: skip
    assert ran.returncode != 0
    output = (ran.stdout + ran.stderr).strip()
    assert len(output.splitlines()) == 1, output
    assert f"port {port} " in output and "in use" in output, output


def test_bad_parameters_are_one_line() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "local.run", "--parameter", "NoSuchParameter=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=PORT_IN_USE_EXIT_S,
    )  # fmt: skip
    assert ran.returncode != 0
    output = (ran.stdout + ran.stderr).strip()
    assert len(output.splitlines()) == 1 and "NoSuchParameter" in output, output


def test_another_clickatell_then_ctrl_c_under_load(tmp_path: Path) -> None:
    """ClickatellBaseUrl=http://... (allowed locally) sends to that server instead of the stack's own
    simulator; then, with sends in flight and the API polled, Ctrl-C stops everything in time."""
    http = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(connect=2, read=30))
    with ClickatellSimulator(**SIM_CREDENTIALS) as other:
        api_port, moto_port, sim_port = free_ports(3)
        log_path = tmp_path / "stack.log"
        command = [
            sys.executable, "-m", "local.run", "--api-port", str(api_port), "--moto-port", str(moto_port),
            "--sim-port", str(sim_port), "--parameter", f"ClickatellBaseUrl={other.url}",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{api_port}"
        headers = {"x-api-key": API_KEY, "Content-Type": "application/json"}

        def post(to: list[str]) -> str:
            body = json.dumps({"to": to, "text": "to the other server"}).encode()
            answer = http.request("POST", f"{api}/v1/messages", body=body, headers=headers)
            assert answer.status == 202, answer.data
            return str(json.loads(answer.data)["job_id"])

        try:
            deadline = time.monotonic() + 90
            while READY_LINE not in log_path.read_text(errors="replace"):
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            job_id = post(numbers(3, start=9_000_000))
            while True:
                job = json.loads(http.request("GET", f"{api}/v1/messages/{job_id}", headers=headers).data)
                if job["counts"]["queued"] == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert job["counts"]["submitted"] == 3, job
            assert other.stats()["recipients_accepted"] == 3
            own = json.loads(http.request("GET", f"http://127.0.0.1:{sim_port}/_sim/stats").data)
            assert own["requests"] == 0, own

            # Load: slow answers keep the sender's POSTs in flight while the API is polled.
            other.set_faults(latency_ms=1500)
            post(numbers(20_000, start=9_100_000))
            polling = threading.Event()

            def poll() -> None:
                while not polling.is_set():
                    try:
                        http.request("GET", f"{api}/v1/messages/{job_id}", headers=headers)
                    except urllib3.exceptions.HTTPError:
                        return

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            time.sleep(3)  # sender invocations now wait on the slow server
            assert other.stats()["requests"] > 1
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=CTRL_C_EXIT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running {CTRL_C_EXIT_S} s after Ctrl-C:\n{log_path.read_text()[-3000:]}")
            finally:
                polling.set()
            assert code == 0, log_path.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            http.clear()
