"""AWS services on this machine: a moto server with the template's table, queues and secrets."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.template import LocalTemplate

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


def start_moto(host: str = "127.0.0.1", port: int = 0) -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
    # Keep-alive, as AWS endpoints do: werkzeug's default HTTP/1.0 closes every connection, so each
    # AWS call paid a TCP handshake and a new server thread.
    MotoRequestHandler.protocol_version = "HTTP/1.1"
    _serialise_dynamodb()
    _bound_stream_memory(STREAM_RETENTION_S)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


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
    session = _session()
    return (
        session.client("dynamodb", endpoint_url=endpoint),
        session.client("sqs", endpoint_url=endpoint),
        session.client("secretsmanager", endpoint_url=endpoint),
    )


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
