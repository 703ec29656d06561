"""Invocations running at once in the local stack's threads keep powertools' per-process state apart,
as separate Lambda execution environments do. Each test interleaves two invocations on purpose:
the first waits in the middle while the second runs from start to end."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver

from local.events import function_url_event
from local.functions import run_isolated

Handler = Callable[[dict[str, Any], Any], Any]


def _interleaved(first: Handler, second: Handler, resume: threading.Event) -> tuple[Any, Any]:
    """Start `first`; run `second` to its end while `first` waits on `resume`; then let it finish."""
    answers: dict[str, Any] = {}

    def run_first() -> None:
        answers["first"] = run_isolated(first, {"which": "first"}, None)

    thread = threading.Thread(target=run_first)
    thread.start()
    answers["second"] = run_isolated(second, {"which": "second"}, None)
    resume.set()
    thread.join(10)
    assert not thread.is_alive()
    return answers["first"], answers["second"]


def test_each_invocation_flushes_its_own_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = Metrics(namespace="Test", service="local")  # every Metrics() shares one class-level set
    waiting, resume = threading.Event(), threading.Event()

    @metrics.log_metrics(raise_on_empty_metrics=True)
    def first(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="First", unit="Count", value=1)
        waiting.set()
        resume.wait(10)

    @metrics.log_metrics(raise_on_empty_metrics=True)
    def second(event: dict[str, Any], context: Any) -> None:
        waiting.wait(10)
        metrics.add_metric(name="Second", unit="Count", value=1)

    _interleaved(first, second, resume)

    flushed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    names = [[m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for line in flushed]
    assert sorted(names) == [["First"], ["Second"]]


def test_each_invocation_sees_its_own_event_in_a_resolver() -> None:
    app, other_app = LambdaFunctionUrlResolver(), LambdaFunctionUrlResolver()  # two functions
    waiting, resume = threading.Event(), threading.Event()

    @app.get("/first")
    def first_route() -> dict[str, Any]:
        waiting.set()
        resume.wait(10)
        return {"path": app.current_event.path, "query": app.current_event.query_string_parameters}

    @other_app.get("/second")
    def second_route() -> dict[str, Any]:
        return {"path": other_app.current_event.path}

    first_event = function_url_event("GET", "/first", query=[("n", "1")], headers={}, body=b"")
    second_event = function_url_event("GET", "/second", query=[], headers={}, body=b"")

    def first(event: dict[str, Any], context: Any) -> Any:
        return app.resolve(first_event, context)

    def second(event: dict[str, Any], context: Any) -> Any:
        waiting.wait(10)
        return other_app.resolve(second_event, context)

    first_answer, second_answer = _interleaved(first, second, resume)

    assert json.loads(first_answer["body"]) == {"path": "/first", "query": {"n": "1"}}
    assert json.loads(second_answer["body"]) == {"path": "/second"}


def test_keys_one_invocation_appends_are_not_logged_by_another(capsys: pytest.CaptureFixture[str]) -> None:
    logger = Logger(service="local", stream=None)
    logging.getLogger("local").propagate = False
    waiting, resume = threading.Event(), threading.Event()

    def first(event: dict[str, Any], context: Any) -> None:
        logger.append_keys(job_id="first-job")
        waiting.set()
        resume.wait(10)
        logger.info("first")

    def second(event: dict[str, Any], context: Any) -> None:
        waiting.wait(10)
        logger.info("second")

    _interleaved(first, second, resume)

    lines = {line["message"]: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines["first"]["job_id"] == "first-job"
    assert "job_id" not in lines["second"]
