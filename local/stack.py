"""The whole system on this machine: moto, the Clickatell simulator, the HTTP API, SQS pollers and
the sweeper, all from template.yaml's definitions, with no AWS account and no Docker."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.aws_env import (
    ACCOUNT,
    DYNAMODB_LOCK,
    REGION,
    LocalResources,
    apply_environment,
    client,
    client_environment,
    clients,
    function_environment,
    moto_endpoint,
    provision,
    start_moto,
)
from local.context import LocalContext
from local.events import scheduled_event
from local.functions import invoke, load_module
from local.gateway import Gateway
from local.poller import FunctionTarget, SqsPoller, SqsSource
from local.scheduler import LocalScheduler
from local.simulator import ClickatellSimulator, Faults
from local.simulator.process import SimulatorProcess
from local.streams import HttpStreams, MotoStreams, StreamPoller
from local.template import FunctionDefinition, LocalTemplate, load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DEFAULT_API_KEY = "local-dev-key"
DEFAULT_CALLBACK_TOKEN = "local-callback-token"
DEFAULT_WEBHOOK_SIGNING_KEY = "local-webhook-signing-key"
# The simulator's credentials for both APIs; the local ClickatellSecret holds them all.
SIM_CREDENTIALS = {
    "user": "sim-user",
    "password": "sim-password",
    "api_id": "3456789",
    "api_key": "sim-api-key",
}
API_BODY_LIMIT = 10 * 1024 * 1024  # API Gateway's payload limit
# What the template's DEFAULT_4XX gateway response makes of API Gateway's REQUEST_TOO_LARGE.
TOO_LARGE_BODY = (
    b'{"error": {"code": "REQUEST_TOO_LARGE", "message": "Request Entity Too Large", "field": null}}'
)
# Ctrl-C must stop everything within 10 s: what is still running after this is abandoned (local.run).
STOP_WAIT_S = 5.0
log = logging.getLogger("local.stack")


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    moto_port: int = 5000
    sim_port: int = 8099
    api_key: str = DEFAULT_API_KEY
    callback_token: str = DEFAULT_CALLBACK_TOKEN
    webhook_signing_key: str = DEFAULT_WEBHOOK_SIGNING_KEY
    sim_faults: dict[str, Any] = field(default_factory=dict)
    sim_seed: int | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    pollers: bool = True  # also runs the local scheduler; without, a test drives both by hand
    sweep_every_s: float | None = None  # None: the template's schedule
    prefix: str = "bulksms-local"
    # moto and the simulator in processes of their own (local.run: DynamoDB and Clickatell are
    # services of their own, not threads beside the functions); in this one, tests can reach into
    # them to inspect and fault them.
    moto_process: bool = False
    simulator_process: bool = False


class _ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each kept-alive answer waits ~40 ms for a delayed ACK
    server: _ApiServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > API_BODY_LIMIT:
            self._reply(413, {"Content-Type": "application/json"}, TOO_LARGE_BODY)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        answer = self.server.gateway.handle(self.command, url.path, query, dict(self.headers.items()), body)
        self._reply(answer.status, answer.headers, answer.body)

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("api %s", format % args)


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, _ApiHandler)


def _rate_seconds(expression: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if not match:
        raise ValueError(f"unsupported schedule {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match[2].rstrip("s")]
    return int(match[1]) * unit


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pollers: list[SqsPoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.moto: Any = None
        self.simulator: ClickatellSimulator | SimulatorProcess | None = None
        self.api_server: _ApiServer | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        config = self.config
        self.moto = start_moto(config.host, config.moto_port, own_process=config.moto_process)
        self.endpoint = moto_endpoint(self.moto)
        apply_environment(client_environment(self.endpoint))
        if config.simulator_process:
            self.simulator = SimulatorProcess(
                config.host,
                config.sim_port,
                credentials=SIM_CREDENTIALS,
                faults=config.sim_faults,
                seed=config.sim_seed,
            )
        else:
            self.simulator = ClickatellSimulator(
                config.host,
                config.sim_port,
                faults=Faults().merged(config.sim_faults),
                seed=config.sim_seed,
                user=SIM_CREDENTIALS["user"],
                password=SIM_CREDENTIALS["password"],
                api_id=SIM_CREDENTIALS["api_id"],
                api_key=SIM_CREDENTIALS["api_key"],
            ).start()
        overrides = {"ClickatellBaseUrl": self.simulator.url, **config.parameter_overrides}
        self.template: LocalTemplate = load_template(TEMPLATE, overrides)
        self.resources: LocalResources = provision(
            self.template,
            self.endpoint,
            prefix=config.prefix,
            secret_values={
                "ClickatellSecret": SIM_CREDENTIALS,
                "CallbackTokenSecret": {"token": config.callback_token},
                "WebhookSigningSecret": {"key": config.webhook_signing_key},
            },
        )
        apply_environment(function_environment(self.template, self.resources))
        for function in self.template.functions():  # once, before anything can invoke one
            load_module(function)
        self.gateway = Gateway(self.template, config.api_key)
        self.api_server = _ApiServer((config.host, config.api_port), self.gateway)
        self._spawn("api-server", self.api_server.serve_forever)
        self.simulator.configure(callback_url=self.callback_url)
        self.simulator.mo.configure(
            self.inbound_url, api=self.template.parameters.get("ClickatellApi", "http")
        )
        self._sqs = clients(self.endpoint)[1]
        self.scheduler = self._build_scheduler()
        if config.pollers:
            for poller in self._build_pollers():
                self.pollers.append(poller.start())
            self._spawn("scheduler", self.scheduler.run, self._stop)
        self.stream_pollers = self._build_stream_pollers()
        if config.pollers:
            for stream_poller in self.stream_pollers:
                stream_poller.start()
        self._start_sweeper()
        return self

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """Take no new work, give the invocations in flight at most `wait_s`, then stop the servers."""
        deadline = time.monotonic() + wait_s
        self._stop.set()
        for poller in self.pollers:
            poller.stop(wait_s=0)
        for stream_poller in self.stream_pollers:
            stream_poller.stop(wait_s=0)
        if self.api_server:
            self.api_server.shutdown()
            self.api_server.server_close()
        for poller in self.pollers:
            poller.stop(wait_s=max(0.0, deadline - time.monotonic()))
        for stream_poller in self.stream_pollers:
            stream_poller.stop(wait_s=max(0.0, deadline - time.monotonic()))
        if self.simulator:
            self.simulator.stop()
        if self.moto:
            self.moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what is where ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        assert self.api_server is not None
        return f"http://{self.config.host}:{self.api_server.server_port}"

    @property
    def callback_url(self) -> str:
        return self._function_url("CallbackFunction")

    @property
    def inbound_url(self) -> str:
        """Where the simulator sends replies (MO callbacks)."""
        return self._function_url("InboundFunction")

    def function(self, logical_id: str) -> FunctionDefinition:
        return self.template.function(logical_id)

    # -- pieces -------------------------------------------------------------------------------------

    def _function_url(self, logical_id: str) -> str:
        function = self.function(logical_id)
        return f"{self.api_url}{function.local_path}?token={self.config.callback_token}"

    def _build_pollers(self, only: str | None = None) -> list[SqsPoller]:
        """A poller for every SQS trigger of the template (or of function `only`)."""
        pollers = []
        for function in self.template.functions():
            if only is not None and function.logical_id != only:
                continue
            for trigger in function.sqs_triggers:
                queue_url = self.resources.queue_url(trigger.queue)
                visibility = int(
                    self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])[
                        "Attributes"
                    ]["VisibilityTimeout"]
                )
                source = SqsSource(
                    queue_url=queue_url,
                    queue_arn=self.resources.queue_arn(trigger.queue),
                    batch_size=trigger.batch_size,
                    batching_window_s=trigger.batching_window_s,
                    max_concurrency=trigger.max_concurrency or 2,
                    report_batch_item_failures=trigger.reports_batch_item_failures,
                )
                target = FunctionTarget(
                    function.logical_id, partial(invoke, function), function.timeout_s, function.memory_mb
                )
                log.debug(
                    "poller for %s on %s (visibility %ss)", function.logical_id, trigger.queue, visibility
                )
                pollers.append(SqsPoller(self._sqs, source, target))
        return pollers

    def _build_scheduler(self) -> LocalScheduler:
        (group,) = self.template.resources_of_type("AWS::Scheduler::ScheduleGroup")
        queues = {
            self.resources.queue_arn(queue.logical_id): self.resources.queue_url(queue.logical_id)
            for queue in self.template.queue_definitions()
        }
        scheduler = client(self.endpoint, "scheduler")
        return LocalScheduler(scheduler, self._sqs, self.resources.refs[group], queues)

    def poller(self, logical_id: str) -> SqsPoller:
        """A poller for a function's queue that a test drives by hand (with `pollers=False`)."""
        (poller,) = self._build_pollers(only=logical_id)
        return poller

    def _build_stream_pollers(self) -> list[StreamPoller]:
        streams: MotoStreams | HttpStreams = MotoStreams(ACCOUNT, REGION, DYNAMODB_LOCK)
        if self.config.moto_process:
            streams = HttpStreams(self.endpoint)
        pollers = []
        for function in self.template.functions():
            for trigger in function.stream_triggers:
                target = FunctionTarget(
                    function.logical_id, partial(invoke, function), function.timeout_s, function.memory_mb
                )
                failure_queue = (
                    self.resources.queue_url(trigger.on_failure_queue) if trigger.on_failure_queue else None
                )
                stream_arn = self.resources.refs[f"{trigger.table}.StreamArn"]
                pollers.append(StreamPoller(streams, self._sqs, stream_arn, trigger, target, failure_queue))
        return pollers

    def drain_streams(self) -> int:
        """Deliver every stream record written so far (with `pollers=False`, where a test drives the
        event sources by hand); the number of records read."""
        return sum(poller.drain() for poller in self.stream_pollers)

    def sender_poller(self) -> SqsPoller:
        return self.poller("SenderFunction")

    def _start_sweeper(self) -> None:
        for function in self.template.functions():
            for schedule in function.schedules:
                every = self.config.sweep_every_s or _rate_seconds(schedule.expression)
                self._spawn(f"schedule-{function.logical_id}", self._every, every, function)

    def _every(self, seconds: float, function: FunctionDefinition) -> None:
        while not self._stop.wait(seconds):
            try:
                self.invoke_scheduled(function.logical_id)
            except Exception:
                log.exception("%s failed", function.logical_id)

    def invoke_scheduled(self, logical_id: str) -> Any:
        function = self.function(logical_id)
        context = LocalContext(function.logical_id, function.memory_mb, function.timeout_s)
        return invoke(function, scheduled_event(), context)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def queue_depth(self, logical_id: str = "SendQueue") -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def wait_for_empty_queue(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while self.queue_depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.queue_depth():
            raise TimeoutError("the send queue did not drain")
