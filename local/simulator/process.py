"""The simulator in a process of its own (`python -m local.simulator`), driven over its `/_sim/*`
controls: what `make local` and the bench run.

Clickatell is not inside our stack: in one process with the functions, the simulator's answers and
its delivery callbacks (a fifth of that process's CPU while reports arrive) took turns with the
functions under one interpreter lock. The object answers to what the stack calls on an in-process
`ClickatellSimulator` (`url`, `configure`, `mo.configure`, `stop`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from local.child_process import ChildProcess


class SimulatorProcess:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        credentials: Mapping[str, str],
        faults: Mapping[str, Any],
        seed: int | None,
    ) -> None:
        args = ["--host", host, "--port", str(port)]
        for name in ("user", "password", "api_id", "api_key"):
            args += [f"--{name.replace('_', '-')}", credentials[name]]
        if seed is not None:
            args += ["--seed", str(seed)]
        ready = r"Clickatell simulator listening on (\S+) "
        self._child = ChildProcess("local.simulator", args, ready, "the simulator")
        self.url: str = self._child.ready[1]
        self.mo = _RemoteReplies(self)
        if faults:
            self.control("faults", dict(faults))

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self.control("config", changes)

    def control(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /_sim/<name> with a JSON body; a refusal raises ValueError with the simulator's reason."""
        request = urllib.request.Request(
            f"{self.url}/_sim/{name}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                result: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise ValueError(f"/_sim/{name}: {error.read().decode(errors='replace')}") from None
        return result

    def stop(self) -> None:
        self._child.stop()


class _RemoteReplies:
    """`mo.configure` of a simulator process: where its replies (MO) go, and in which API's shape."""

    def __init__(self, simulator: SimulatorProcess) -> None:
        self._simulator = simulator

    def configure(self, url: str | None, api: str = "http") -> None:
        self._simulator.control("mo/config", {"url": url, "api": api})
