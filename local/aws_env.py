"""AWS services on this machine: a moto server with the template's table, queues and secrets."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.child_process import ChildProcess
from local.template import LocalTemplate

log = logging.getLogger("local.aws")
REGION = "us-east-1"
ACCOUNT = "123456789012"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def client_environment(endpoint: str) -> dict[str, str]:
    """What makes every boto3 client in this process talk to the local moto server."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, **CREDENTIALS}


# AWS keeps stream records for 24 hours; the local stand-in keeps them for this long (its reader is
# at most seconds behind), so a long `make local` does not hold every write it ever made in memory.
STREAM_RETENTION_S = 300


def start_moto(
    host: str = "127.0.0.1", port: int = 0, *, own_process: bool = False
) -> LocalMoto | MotoProcess:
    """moto's server with the template's services; in a process of its own (local.moto_server) or in
    this one (where tests can reach into its backends)."""
    if own_process:
        return MotoProcess(host, port)
    from local import moto_speedups

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    moto_speedups.install()
    _serialise_dynamodb()
    _bound_stream_memory(STREAM_RETENTION_S)
    return LocalMoto(host, port).start()


class LocalMoto:
    """moto's server (what ThreadedMotoServer runs) with keep-alive connections, as AWS endpoints have.

    werkzeug's development server closes every connection, then waits 10 ms for leftover bytes,
    because http.server cannot tell an unread body from the next request. So each AWS call paid a TCP
    handshake, a new server thread and that wait. Here the body is read in full by its length before
    moto sees it, and the answer goes out with its length, so the connection can carry the next call.
    """

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import create_backend_app
        from werkzeug.serving import make_server

        from local.streams import MotoStreams, streams_endpoint

        streams = MotoStreams(ACCOUNT, REGION, DYNAMODB_LOCK)
        app = streams_endpoint(_dispatcher()(create_backend_app), streams)
        self._connections: set[socket.socket] = set()
        handler = _keep_alive_handler(self._connections)
        self._server = make_server(host, port, app, threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> LocalMoto:
        self._thread.start()
        return self

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        for connection in list(self._connections):  # idle kept-alive connections hold a thread each
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()


class MotoProcess:
    """local.moto_server in a child process: the same server, on a core of its own."""

    def __init__(self, host: str, port: int) -> None:
        args = ["--host", host, "--port", str(port)]
        self._child = ChildProcess("local.moto_server", args, r"moto ready on (\S+):(\d+)\n$", "moto")
        self._host, self._port = self._child.ready[1], int(self._child.ready[2])

    def get_host_and_port(self) -> tuple[str, int]:
        return self._host, self._port

    def stop(self) -> None:
        self._child.stop()


# The services the stack calls, whose backend moto picks from the signature's scope and the target.
_DISPATCH_CACHED = frozenset({"dynamodb", "sqs", "secretsmanager", "scheduler"})


def _dispatcher() -> type:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    class CachedDispatcher(DomainDispatcherApplication):  # type: ignore[misc]
        """moto's dispatcher, remembering which backend serves a service: to find out it lists moto's
        package directory and walks its URL patterns, on every request (a tenth of a DynamoDB call)."""

        def get_application(self, environ: dict[str, Any]) -> Any:
            scope = environ.get("HTTP_AUTHORIZATION", "").split(",")[0].split("/")
            if len(scope) != 5 or scope[3] not in _DISPATCH_CACHED:
                return super().get_application(environ)
            key = (scope[2], scope[3], environ.get("HTTP_X_AMZ_TARGET", "").split(".")[0])
            cache: dict[tuple[str, ...], Any] = self.__dict__.setdefault("_local_apps", {})
            if key not in cache:
                app = cache[key] = super().get_application(environ)
                # moto runs its apps in Flask's debug mode, whose form-parsing helper costs every
                # call; errors still reach KeepAliveHandler, which logs them and answers 500.
                app.debug, app.config["PROPAGATE_EXCEPTIONS"] = False, True
            return cache[key]

    return CachedDispatcher


def _keep_alive_handler(connections: set[socket.socket]) -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveHandler(MotoRequestHandler):  # type: ignore[misc]
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each kept-alive answer waits ~40 ms for a delayed ACK

        def setup(self) -> None:
            super().setup()
            connections.add(self.connection)

        def finish(self) -> None:
            connections.discard(self.connection)
            super().finish()

        def run_wsgi(self) -> None:
            environ = self.make_environ()  # werkzeug's, with moto's header spelling
            if environ.get("wsgi.input_terminated"):  # a chunked body: read to its end, then close
                body = environ["wsgi.input"].read()
                self.close_connection = True
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = self.rfile.read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            answer: dict[str, Any] = {}
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                answer["status"], answer["headers"] = status, headers
                return chunks.append

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    getattr(result, "close", lambda: None)()
            except Exception:
                log.exception("moto failed on %s %s", self.command, self.path)
                answer = {"status": "500 Internal Server Error", "headers": []}
                chunks, self.close_connection = [], True
            code, _, reason = answer["status"].partition(" ")
            data = b"".join(chunks)
            self.send_response(int(code), reason)
            for name, value in answer["headers"]:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return KeepAliveHandler


DYNAMODB_LOCK = threading.RLock()


def _serialise_dynamodb() -> None:
    """One DynamoDB request at a time in moto, as DynamoDB's own isolation would have it.

    moto's TransactWriteItems deep-copies the whole table and puts the copy back when a condition
    fails, so a write made meanwhile by another thread (the sender, while callbacks arrive) is lost or
    the call fails with HTTP 500. That is moto, not DynamoDB; the lock costs little, as moto holds the
    GIL anyway.
    """
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "serialised", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            return original(self)

    call_action.serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def _bound_stream_memory(retention_s: float) -> None:
    """Trim moto's stream records older than `retention_s` (reading a trimmed position fails, as
    AWS's TrimmedDataAccessException does) and forget shard iterators once used: moto keeps both
    forever."""
    import datetime

    from moto.core.utils import utcnow
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    if getattr(StreamShard.add, "bounded", False):
        return
    original_add = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        if len(self.items) % 1000:
            return
        cutoff = utcnow() - datetime.timedelta(seconds=retention_s)
        keep = next(
            (
                i
                for i, record in enumerate(self.items)
                if record.record["dynamodb"]["ApproximateCreationDateTime"] >= cutoff
            ),
            len(self.items),
        )
        if keep:
            # Sequence numbers are the position plus starting_sequence_number: move both together.
            del self.items[:keep]
            self.starting_sequence_number += keep

    add.bounded = True  # type: ignore[attr-defined]
    StreamShard.add = add  # type: ignore[method-assign]
    original_get_records = DynamoDBStreamsBackend.get_records

    def get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        answer = original_get_records(self, iterator_arn, limit)
        self.shard_iterators.pop(iterator_arn, None)
        return answer

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]


def moto_endpoint(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


@dataclass
class LocalResources:
    """Physical names of the template's resources, by logical id (what Ref and GetAtt give)."""

    endpoint: str
    refs: dict[str, str] = field(default_factory=dict)

    def queue_url(self, logical_id: str) -> str:
        return self.refs[logical_id]

    def queue_arn(self, logical_id: str) -> str:
        return self.refs[f"{logical_id}.Arn"]


def clients(endpoint: str) -> tuple[Any, Any, Any]:
    return (
        client(endpoint, "dynamodb"),
        client(endpoint, "sqs"),
        client(endpoint, "secretsmanager"),
    )


def client(endpoint: str, service: str) -> Any:
    return _session().client(service, endpoint_url=endpoint)


def _session() -> Any:
    return boto3.session.Session(region_name=REGION, **{k.lower(): v for k, v in CREDENTIALS.items()})


def provision(
    template: LocalTemplate, endpoint: str, *, prefix: str, secret_values: Mapping[str, Mapping[str, Any]]
) -> LocalResources:
    """Create the template's table, queues (with redrive) and secrets in moto.

    `secret_values` gives each secret's local value by logical id (credentials of the simulator,
    a known callback token); CloudFormation would generate them.
    """
    dynamodb, sqs, secretsmanager = clients(endpoint)
    resources = LocalResources(endpoint)
    refs = resources.refs
    for logical_id in template.resources_of_type("AWS::DynamoDB::Table"):
        name = f"{prefix}-{logical_id.lower()}"
        created = dynamodb.create_table(**template.table_definition(name, logical_id))["TableDescription"]
        if "LatestStreamArn" in created:
            refs[f"{logical_id}.StreamArn"] = created["LatestStreamArn"]
        if ttl := template.table_ttl_attribute(logical_id):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
        refs[logical_id] = name
        refs[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    for queue in template.queue_definitions():  # dead-letter queues come first
        name = queue.name or f"{prefix}-{queue.logical_id.lower()}"
        attributes = dict(queue.attributes)
        if queue.redrive:
            attributes["RedrivePolicy"] = queue.redrive_policy(refs[f"{queue.redrive.target}.Arn"])
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        refs[queue.logical_id] = url
        refs[f"{queue.logical_id}.Arn"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        refs[f"{queue.logical_id}.QueueName"] = name
    for logical_id in template.resources_of_type("AWS::Scheduler::ScheduleGroup"):
        name = f"{prefix}-{logical_id.lower()}"
        client(endpoint, "scheduler").create_schedule_group(Name=name)
        refs[logical_id] = name
    for logical_id in template.resources_of_type("AWS::IAM::Role"):
        # moto does not check who assumes what: the role only needs an ARN to be passed around.
        refs[f"{logical_id}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{prefix}-{logical_id.lower()}"
    for secret in template.secrets():
        name = secret.name or f"{prefix}/{secret.logical_id}"
        value = json.dumps(dict(secret_values[secret.logical_id]))
        arn = secretsmanager.create_secret(Name=name, Description=secret.description, SecretString=value)[
            "ARN"
        ]
        refs[secret.logical_id] = arn
    return resources


def function_environment(template: LocalTemplate, resources: LocalResources) -> dict[str, str]:
    """Every function's resolved environment, merged: functions share this process's os.environ."""
    merged: dict[str, str] = {}
    for function in template.functions():
        for name, value in template.function_environment(function, resources.refs).items():
            if merged.setdefault(name, value) != value:
                raise ValueError(
                    f"{name} differs between functions; the local stack runs them in one process"
                )
    return merged


def apply_environment(values: Mapping[str, str]) -> None:
    os.environ.update(values)
