"""What the simulator tests share: the simulator on a loopback port, a client pool, and the requests
a Clickatell client makes (sendmsg with the simulator's default credentials, the /_sim controls).

Import the fixtures into a test module (`from tests.integration.sim_client import http, sim`) so pytest
registers them there.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from local.simulator import ClickatellSimulator

AUTH = {"api_id": "3456789", "user": "sim-user", "password": "sim-password"}
N1, N2, N3 = "27831234567", "27831234568", "27831234569"


@pytest.fixture
def sim() -> Iterator[ClickatellSimulator]:
    with ClickatellSimulator(seed=7) as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1.0, read=5.0))
    yield pool
    pool.clear()


def post(
    http: urllib3.PoolManager, sim: ClickatellSimulator, path: str = "/http/sendmsg", **params: Any
) -> urllib3.BaseHTTPResponse:
    return http.request(
        "POST",
        sim.url + path,
        body=urllib.parse.urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def send(http: urllib3.PoolManager, sim: ClickatellSimulator, **params: Any) -> str:
    response = post(http, sim, **{**AUTH, **params})
    assert response.status == 200
    return response.data.decode()


def control(
    http: urllib3.PoolManager, sim: ClickatellSimulator, path: str, body: Any = None
) -> tuple[int, Any]:
    if body is None:
        response = http.request("GET", sim.url + path)
    else:
        response = http.request("POST", sim.url + path, body=json.dumps(body).encode())
    assert response.headers["Content-Type"] == "application/json"
    return response.status, json.loads(response.data)
