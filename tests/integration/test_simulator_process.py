"""The simulator in a process of its own (local.simulator.process, what `make local` runs): it takes
the stack's credentials, faults and seed, is configured over its controls as the in-process one is
by method, refuses what the in-process one refuses, and stops."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import urllib.request

import pytest

from local.simulator.process import SimulatorProcess
from local.stack import SIM_CREDENTIALS

pytestmark = pytest.mark.timeout(30)


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        result: dict[str, object] = json.loads(answer.read())
    return result


def test_a_simulator_process_is_configured_over_its_controls_and_stops() -> None:
    sim = SimulatorProcess("127.0.0.1", 0, credentials=SIM_CREDENTIALS, faults={"latency_ms": "5"}, seed=7)
    try:
        form = urllib.parse.urlencode(
            {
                **{k: SIM_CREDENTIALS[k] for k in ("user", "password", "api_id")},
                "to": "27821234567",
                "text": "hi",
            }
        ).encode()
        with urllib.request.urlopen(f"{sim.url}/http/sendmsg", data=form, timeout=5) as answer:
            assert answer.read().decode().startswith("ID: ")  # the stack's credentials, not the defaults
        faults = _get(f"{sim.url}/_sim/faults")["faults"]
        assert isinstance(faults, dict) and faults["latency_ms"] == 5.0 and faults["seed"] == 7

        assert sim.configure(callback_url="http://127.0.0.1:9/cb")["callback_url"] == "http://127.0.0.1:9/cb"
        assert _get(f"{sim.url}/_sim/config")["callback_url"] == "http://127.0.0.1:9/cb"
        sim.mo.configure("http://127.0.0.1:9/mo", api="one")
        assert sim.control("mo/config", {"url": "http://127.0.0.1:9/mo", "api": "one"}) == {
            "url": "http://127.0.0.1:9/mo",
            "format": "one",
        }
        with pytest.raises(ValueError, match="mo/config"):
            sim.mo.configure("http://example.com/mo")  # replies go to loopback URLs only
    finally:
        sim.stop()
    host, port = urllib.parse.urlsplit(sim.url).hostname, urllib.parse.urlsplit(sim.url).port
    assert host and port
    with pytest.raises(OSError):
        http.client.HTTPConnection(host, port, timeout=2).connect()
