"""The local stack invokes each function like Lambda would: handlers imported once before serving, and
every invocation's log lines carry its own function's name and memory size and no other invocation's keys
(in Lambda each function has its own process; here they share one, and one powertools formatter)."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.functions import load_module
from local.stack import LocalStack
from tests.integration.jobs import numbers, submit

SERVICE = "bulksms"  # POWERTOOLS_SERVICE_NAME in the template's Globals


class Lines(logging.Handler):
    """What powertools writes for each record, formatted by its own formatter in the logging thread."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.format(record))
        with self._guard:
            self.lines.append(line)

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("message") == message]


@pytest.fixture
def lines(fresh: LocalStack) -> Iterator[Lines]:
    logger = logging.getLogger(SERVICE)
    (powertools,) = [h for h in logger.handlers if not isinstance(h, Lines)]
    assert powertools.formatter is not None
    capture = Lines(powertools.formatter)
    logger.addHandler(capture)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)


def test_every_function_module_is_imported_before_serving(fresh: LocalStack) -> None:
    for function in fresh.template.functions():
        module = sys.modules.get(f"_function_{function.logical_id}")
        assert module is not None and callable(getattr(module, function.handler_attr)), function.logical_id


def test_concurrent_loads_of_a_module_get_it_whole_and_once(fresh: LocalStack, tmp_path: Path) -> None:
    # The KeyError: a thread used a module another thread was still executing. A handler
    # module whose import takes a while (as a cold one does) makes the window wide.
    (tmp_path / "slow_app.py").write_text(
        "import time\nLOADS = []\ntime.sleep(0.3)\nLOADS.append(1)\n\n"
        "def lambda_handler(event, context):\n    return LOADS\n"
    )
    function = dataclasses.replace(
        fresh.function("SweeperFunction"), code_dir=tmp_path, handler_module="slow_app"
    )
    name = "_test_concurrent_load"
    barrier = threading.Barrier(6)
    loaded: list[Any] = []

    def load() -> None:
        barrier.wait()
        module = load_module(function, name)
        loaded.append((module, getattr(module, "lambda_handler", None)))

    threads = [threading.Thread(target=load) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(loaded) == 6
        assert len({id(module) for module, _ in loaded}) == 1
        assert all(callable(handler) for _, handler in loaded), "a thread got a module still being imported"
        assert loaded[0][0].LOADS == [1]  # executed once
    finally:
        sys.modules.pop(name, None)


def test_each_invocation_logs_its_own_function_and_keys(
    api: Any, fresh: LocalStack, drain: Any, lines: Lines
) -> None:
    first = submit(api, numbers(1800))  # three chunks: several sender log lines
    accepted: list[str] = []

    def accept_more() -> None:
        for start in range(5):
            accepted.append(submit(api, numbers(2, start=2_000_000 + 10 * start)))

    api_thread = threading.Thread(target=accept_more)
    api_thread.start()
    drain()  # the sender appends job_id to its logger while the API invokes alongside
    api_thread.join()
    drain()

    memory = {f.logical_id: f.memory_mb for f in fresh.template.functions()}
    sent = lines.with_message("chunk sent")
    assert {line["job_id"] for line in sent} == {first, *accepted}
    for line in sent:  # logged from the sender's thread pool: the invocation's keys follow its work
        assert (line["function_name"], line["function_memory_size"]) == (
            "SenderFunction",
            memory["SenderFunction"],
        ), line
        assert "correlation_id" not in line, line  # the API's key, from another invocation
    api_lines = lines.with_message("job accepted")
    assert len(api_lines) == 6
    for line in api_lines:
        assert (line["function_name"], line["function_memory_size"]) == (
            "ApiFunction",
            memory["ApiFunction"],
        ), line
        assert line["correlation_id"], line
    request_ids = [line["function_request_id"] for line in api_lines]
    assert len(set(request_ids)) == len(request_ids)  # each API line from its own invocation
    assert not set(request_ids) & {line["function_request_id"] for line in sent}
