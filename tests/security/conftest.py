"""The security tests' own local stack (see tests/contract/conftest.py for why it is isolated), with
every handler imported up front, and a tap on every log line the process writes."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from local.functions import load_handler
from local.stack import LocalStack
from local.tls import make_certificate
from tests.contract.conftest import API_KEY, isolated_stack, table_items

__all__ = ["API_KEY", "LogTap", "secured_stack", "table_items", "tap_logs"]


@pytest.fixture(scope="module")
def webhook_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The status-callback receiver's certificate (on 127.0.0.1, which the stack allows)."""
    return make_certificate(tmp_path_factory.mktemp("webhook-tls"))


@pytest.fixture(scope="module")
def secured_stack(webhook_certificate: tuple[Path, Path]) -> Iterator[LocalStack]:
    with isolated_stack(parameter_overrides={"WebhookAllowedHosts": "127.0.0.1"}) as stack:
        os.environ["WEBHOOK_CA_FILE"] = str(webhook_certificate[0])  # isolated_stack restores the environment
        # Import the handlers now, outside any test's capture: powertools loggers keep the stream
        # they were created with, and a test's capture stream is closed when the test ends.
        for function in stack.template.functions():
            load_handler(function)
        yield stack


class LogTap:
    """What every logging handler in the process wrote, and every record it was given."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.records: list[logging.LogRecord] = []

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


class _RecordKeeper(logging.Handler):
    def __init__(self, tap: LogTap) -> None:
        super().__init__(logging.DEBUG)
        self._tap = tap

    def emit(self, record: logging.LogRecord) -> None:
        self._tap.records.append(record)


def _all_loggers() -> list[logging.Logger]:
    found = [logging.getLogger()]
    found += [item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)]
    return found


@contextmanager
def tap_logs() -> Iterator[LogTap]:
    """Point every stream handler of every logger at one buffer (powertools' JSON handlers hold the
    stdout of the moment they were created, which neither capsys nor capfd sees) and keep every
    record that reaches a logger with handlers of its own (extra fields included)."""
    tap = LogTap()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    keepers: list[tuple[logging.Logger, logging.Handler]] = []
    for logger in _all_loggers():
        for handler in list(logger.handlers):
            # Exactly StreamHandler: what powertools and basicConfig create; not pytest's own handlers.
            if type(handler) is logging.StreamHandler:
                swapped.append((handler, handler.setStream(tap.stream)))
        if logger.handlers or logger is logging.getLogger():
            keeper = _RecordKeeper(tap)
            logger.addHandler(keeper)
            keepers.append((logger, keeper))
    try:
        yield tap
    finally:
        for handler, previous in swapped:
            if previous is not None:
                handler.setStream(previous)
        for logger, added in keepers:
            logger.removeHandler(added)
