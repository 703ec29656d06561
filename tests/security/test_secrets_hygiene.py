"""Secrets never leave Secrets Manager: not in any log line, SQS message or DynamoDB item; the message
text never appears in a log line. And the callback token is compared in constant time, and a wrong or
missing one changes nothing."""

from __future__ import annotations

import ast
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from local.aws_env import clients
from local.stack import SIM_CREDENTIALS, LocalStack
from local.tls import server_context
from tests.security.conftest import API_KEY, LogTap, table_items, tap_logs

ROOT = Path(__file__).resolve().parents[2]
# Both callback routes check the token through runtime.is_callback_token.
RUNTIME = ROOT / "layers" / "core" / "bulksms" / "runtime.py"
CALLBACK_ROUTES = tuple(ROOT / "functions" / name / "app.py" for name in ("callbacks", "inbound"))
TEXT = "SECRET-TEXT-7f3a"
RECIPIENTS = ["27821234567", "27831234568", "447911123456"]
PASSWORD = SIM_CREDENTIALS["password"]
USER = SIM_CREDENTIALS["user"]
API_ID = SIM_CREDENTIALS["api_id"]
# The api_id is a short number: in free text only its labelled forms count, not any 7 digits.
API_ID_LABELLED = re.compile(rf"api_?id\W{{0,4}}{API_ID}", re.IGNORECASE)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]


class _Receiver(BaseHTTPRequestHandler):
    """The client's status-callback endpoint: keeps what it was sent."""

    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((dict(self.headers.items()), body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver(webhook_certificate: tuple[Path, Path]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.socket = server_context(*webhook_certificate).wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@dataclass
class JobRun:
    job_id: str
    log_text: str
    log_lines: list[str]
    records: list[logging.LogRecord]
    queued_messages: list[str]
    items: list[dict[str, Any]]
    status_callbacks: list[tuple[dict[str, str], bytes]]


def _api(stack: LocalStack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"x-api-key": API_KEY, "Content-Type": "application/json"}
    payload = json.dumps(body).encode() if body is not None else b""
    answer = stack.gateway.handle(method, path, [], headers, payload)
    return answer.status, json.loads(answer.body) if answer.body else None


def _peek_queue(stack: LocalStack) -> list[str]:
    """The send queue's messages, left in place for the sender (visibility timeout 0)."""
    sqs = clients(stack.endpoint)[1]
    url = stack.resources.queue_url("SendQueue")
    bodies: dict[str, str] = {}
    for _ in range(20):
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        for message in answer.get("Messages", []):
            bodies[message["MessageId"]] = message["Body"]
        if len(bodies) >= stack.queue_depth():
            break
    return list(bodies.values())


def _drain(stack: LocalStack) -> None:
    poller = stack.sender_poller()
    for _ in range(50):
        if not poller.poll_once() and not stack.queue_depth():
            return
    raise AssertionError("the send queue did not drain")


def _wait_for_delivery(stack: LocalStack, job_id: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        stack.drain_streams()  # the counts function, driven by hand like the sender
        status, job = _api(stack, "GET", f"/v1/messages/{job_id}")
        assert status == 200, job
        if job["counts"]["delivered"] == len(RECIPIENTS) and job["status"] == "completed":
            return dict(job)
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery callbacks did not arrive: {job}")
        time.sleep(0.1)


def _records_text(tap: LogTap) -> str:
    # A record's extra fields are attributes of the record; the formatted line may not show them all.
    return "\n".join(f"{record.getMessage()} {record.__dict__!r}" for record in tap.records)


@pytest.fixture(scope="module")
def job_run(secured_stack: LocalStack, receiver: ThreadingHTTPServer) -> Iterator[JobRun]:
    """One job end to end (accept, queue, send, delivery callbacks, status callback, reads), with
    every log line the process wrote meanwhile."""
    stack = secured_stack
    assert stack.simulator is not None
    request = {
        "to": RECIPIENTS,
        "text": TEXT,
        "callback": 3,
        "client_reference": "hygiene",
        "status_callback_url": f"https://127.0.0.1:{receiver.server_port}/done",
    }
    with tap_logs() as tap:
        status, accepted = _api(stack, "POST", "/v1/messages", request)
        assert status == 202, accepted
        job_id = accepted["job_id"]
        queued = _peek_queue(stack)
        assert queued, "the job queued nothing"
        _drain(stack)
        _wait_for_delivery(stack, job_id)
        status, page = _api(stack, "GET", f"/v1/messages/{job_id}/recipients")
        assert status == 200 and len(page["items"]) == len(RECIPIENTS), page
        status, _ = _api(stack, "DELETE", f"/v1/messages/{job_id}")
        assert status == 409
        webhooks = stack.poller("StatusCallbackFunction")
        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:  # type: ignore[attr-defined]
            webhooks.poll_once(wait_s=1)
    assert stack.simulator.stats()["recipients_accepted"] == len(RECIPIENTS)
    yield JobRun(
        job_id=job_id,
        log_text=tap.stream.getvalue() + "\n" + _records_text(tap),
        log_lines=tap.lines(),
        records=list(tap.records),
        queued_messages=queued,
        items=table_items(stack),
        status_callbacks=list(receiver.received),  # type: ignore[attr-defined]
    )


def _tokens(stack: LocalStack) -> tuple[str, str]:
    """The callback token and the webhook signing key."""
    return stack.config.callback_token, stack.config.webhook_signing_key


def _contains(haystack: str, *needles: str) -> list[str]:
    return [needle for needle in needles if needle in haystack]


def test_the_run_logged_something_to_inspect(job_run: JobRun) -> None:
    messages = {record.getMessage() for record in job_run.records}
    assert {"job accepted", "job finished", "delivery report"} <= messages, sorted(messages)
    assert any(getattr(record, "job_id", None) == job_run.job_id for record in job_run.records)
    # The tap holds what the JSON handlers printed (some modules' child loggers reach it only when
    # the layer was imported with POWERTOOLS_SERVICE_NAME set; the records above hold every line).
    assert any(line.startswith('{"level"') for line in job_run.log_lines), "no JSON log line was tapped"
    assert job_run.status_callbacks, "the status callback never arrived"


def test_no_log_line_holds_a_credential_the_message_text_or_a_token(
    job_run: JobRun, secured_stack: LocalStack, capfd: pytest.CaptureFixture[str], caplog: Any
) -> None:
    captured = capfd.readouterr()
    everything = "\n".join([job_run.log_text, captured.out, captured.err, caplog.text])
    leaked = _contains(everything, PASSWORD, USER, TEXT, *_tokens(secured_stack), API_KEY)
    assert not leaked, f"in the logs: {leaked}"
    assert not API_ID_LABELLED.search(everything), "the Clickatell api_id is in the logs"


def test_no_queued_message_holds_a_credential(job_run: JobRun, secured_stack: LocalStack) -> None:
    for body in job_run.queued_messages:
        assert not _contains(body, PASSWORD, USER, *_tokens(secured_stack), API_KEY), body
        assert not API_ID_LABELLED.search(body), body
        assert API_ID not in _values(json.loads(body)), body


def _values(value: Any) -> list[str]:
    """Every scalar in a JSON value or a DynamoDB item, as text."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _values(item)]
    if isinstance(value, list | tuple | set):
        return [text for item in value for text in _values(item)]
    return [str(value)]


def test_no_table_item_holds_a_credential(job_run: JobRun, secured_stack: LocalStack) -> None:
    assert any(TEXT in _values(item) or TEXT in json.dumps(item) for item in job_run.items), (
        "the job item should hold the text (it must go to Clickatell); did the scan see the table?"
    )
    for item in job_run.items:
        flat = json.dumps(item)
        leaked = _contains(flat, PASSWORD, USER, *_tokens(secured_stack), API_KEY)
        assert not leaked, f"{leaked} in {item.get('pk')} {item.get('sk')}"
        assert API_ID not in _values(item) and not API_ID_LABELLED.search(flat), item.get("sk")


def test_status_callback_is_signed_without_revealing_the_key(
    job_run: JobRun, secured_stack: LocalStack
) -> None:
    headers, body = job_run.status_callbacks[0]
    assert not _contains(json.dumps(headers) + body.decode(), *_tokens(secured_stack), PASSWORD, USER, TEXT)
    assert any(name.lower() == "x-bulksms-signature" for name in headers)


# -- the callback token ------------------------------------------------------------------------------


def _compare_digest_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"hmac", "secrets"}
    ]


def _mentions(node: ast.AST, word: str) -> bool:
    return any(
        (isinstance(n, ast.Name) and word in n.id.lower())
        or (isinstance(n, ast.Attribute) and word in n.attr.lower())
        for n in ast.walk(node)
    )


def test_callback_token_is_compared_in_constant_time() -> None:
    calls = _compare_digest_calls(ast.parse(RUNTIME.read_text(encoding="utf-8")))
    assert any(_mentions(call, "token") for call in calls), "the token check must use hmac.compare_digest"
    for path in (RUNTIME, *CALLBACK_ROUTES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        plain = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare)
            and any(isinstance(op, ast.Eq | ast.NotEq | ast.Is | ast.IsNot | ast.In) for op in node.ops)
            and _mentions(node, "token")
        ]
        assert not plain, f"{path.name}: token compared with ==/!=/in at line {[n.lineno for n in plain]}"
    for path in CALLBACK_ROUTES:
        assert "runtime.is_callback_token(" in path.read_text(encoding="utf-8"), path


def _delivery_report(stack: LocalStack, job_id: str) -> dict[str, str]:
    """A report that a right token would apply: it moves a recipient to 'failed'."""
    _, page = _api(stack, "GET", f"/v1/messages/{job_id}/recipients")
    recipient = page["items"][0]
    return {
        "apiMsgId": recipient["api_message_id"],
        "cliMsgId": job_id,
        "to": recipient["to"],
        "status": "005",
        "timestamp": "1700000000",
    }


@pytest.fixture(scope="module")
def submitted_job(secured_stack: LocalStack) -> str:
    """A job whose recipients are submitted, with no delivery callbacks of the simulator's own."""
    status, accepted = _api(secured_stack, "POST", "/v1/messages", {"to": RECIPIENTS[:1], "text": "hi"})
    assert status == 202, accepted
    _drain(secured_stack)
    return str(accepted["job_id"])


def _callback(stack: LocalStack, method: str, query: dict[str, str], form: dict[str, str]) -> tuple[int, str]:
    path = "/v1/callbacks/clickatell"
    body = urlencode(form).encode() if form else b""
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
    answer = stack.gateway.handle(method, path, list(query.items()), headers, body)
    return answer.status, answer.body.decode()


@pytest.mark.parametrize(
    ("method", "token_in"),
    [("GET", "query"), ("POST", "query"), ("POST", "form")],
)
@pytest.mark.parametrize("token", ["", "wrong-token", None], ids=["empty", "wrong", "missing"])
def test_wrong_or_missing_callback_token_is_403_and_changes_nothing(
    secured_stack: LocalStack, submitted_job: str, method: str, token_in: str, token: str | None
) -> None:
    report = _delivery_report(secured_stack, submitted_job)
    query = {} if method == "POST" and token_in == "form" else dict(report)
    form = dict(report) if method == "POST" and token_in == "form" else {}
    if token is not None:
        (form if token_in == "form" else query)["token"] = token
    before = table_items(secured_stack)

    status, body = _callback(secured_stack, method, query, form)

    assert status == 403, body
    assert table_items(secured_stack) == before


def test_near_miss_token_is_403(secured_stack: LocalStack, submitted_job: str) -> None:
    token = secured_stack.config.callback_token
    report = _delivery_report(secured_stack, submitted_job)
    before = table_items(secured_stack)
    for near in (token[:-1], token + "x", token.upper(), " " + token):
        status, _ = _callback(secured_stack, "GET", {**report, "token": near}, {})
        assert status == 403, near
    assert table_items(secured_stack) == before


def test_right_token_is_applied(secured_stack: LocalStack, submitted_job: str) -> None:
    """The control: the same report with the right token does change the recipient."""
    report = _delivery_report(secured_stack, submitted_job)
    before = table_items(secured_stack)

    status, body = _callback(
        secured_stack, "GET", {**report, "token": secured_stack.config.callback_token}, {}
    )

    assert status == 200, body
    assert table_items(secured_stack) != before
