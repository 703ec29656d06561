"""The local stand-ins for DynamoDB Streams and its Lambda event source, and moto's keep-alive server:
read over HTTP as in-process, retried and bisected like an event source mapping, one connection
for many calls."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from local.aws_env import ACCOUNT, DYNAMODB_LOCK, REGION, clients, start_moto
from local.poller import FunctionTarget
from local.stack import LocalStack
from local.streams import HttpStreams, MotoStreams, StreamPoller
from local.template import StreamTrigger


def _trigger(**changes: Any) -> StreamTrigger:
    fields: dict[str, Any] = {
        "event_id": "Test",
        "table": "Table",
        "starting_position": "TRIM_HORIZON",
        "batch_size": 100,
        "batching_window_s": 0,
        "bisect_on_error": True,
        "max_retry_attempts": 1,
        "on_failure_queue": None,
        "filter_patterns": (),
    }
    return StreamTrigger(**{**fields, **changes})


def _put(stack: LocalStack, *keys: str) -> None:
    dynamodb = clients(stack.endpoint)[0]
    for key in keys:
        dynamodb.put_item(
            TableName=stack.resources.refs["Table"], Item={"pk": {"S": f"TEST#{key}"}, "sk": {"S": key}}
        )


def _records_since_now(streams: Any, arn: str) -> tuple[Any, str]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")
    return shard, iterator["ShardIterator"]


def test_the_stream_read_over_http_is_the_stream_read_in_process(fresh: LocalStack) -> None:
    arn = fresh.resources.refs["Table.StreamArn"]
    in_process, over_http = MotoStreams(ACCOUNT, REGION, DYNAMODB_LOCK), HttpStreams(fresh.endpoint)
    _, local_iterator = _records_since_now(in_process, arn)
    _, http_iterator = _records_since_now(over_http, arn)
    _put(fresh, "a", "b", "c")

    local = in_process.get_records(ShardIterator=local_iterator, Limit=10)["Records"]
    remote = over_http.get_records(ShardIterator=http_iterator, Limit=10)["Records"]

    assert [r["dynamodb"]["Keys"]["sk"] for r in remote] == [{"S": "a"}, {"S": "b"}, {"S": "c"}]
    for mine, theirs in zip(local, remote, strict=True):
        created = mine["dynamodb"].pop("ApproximateCreationDateTime")
        assert theirs["dynamodb"].pop("ApproximateCreationDateTime") == int(created.timestamp())
        assert mine == theirs


def test_a_stream_call_that_fails_over_http_raises_with_the_reason(fresh: LocalStack) -> None:
    with pytest.raises(RuntimeError, match="get_records failed: KeyError"):
        HttpStreams(fresh.endpoint).get_records(ShardIterator="no-such-iterator", Limit=1)


def test_a_failing_batch_is_retried_bisected_and_its_poison_record_sent_to_the_failure_queue(
    fresh: LocalStack,
) -> None:
    sqs = clients(fresh.endpoint)[1]
    failures = sqs.create_queue(QueueName="test-stream-failures")["QueueUrl"]
    delivered: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]]
        if "poison" in keys:
            raise ValueError("cannot handle it")
        delivered.extend(keys)

    arn = fresh.resources.refs["Table.StreamArn"]
    poller = StreamPoller(
        HttpStreams(fresh.endpoint),
        sqs,
        arn,
        _trigger(starting_position="LATEST", max_retry_attempts=3),
        FunctionTarget("Test", handler, 10, 128),
        failures,
    )
    poller.poll_once(window_s=0)  # takes its position: only what is written from now on
    _put(fresh, "a", "poison", "b", "c")
    assert poller.poll_once(window_s=0) == 4

    assert delivered == ["a", "b", "c"]  # in order, and every good record exactly once
    (message,) = sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=0)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
    assert poller.batches_sent_to_failure == 1


SCOPE = f"{REGION}/dynamodb/aws4_request"  # how moto tells which service a call is for


def test_moto_keeps_a_connection_alive_across_calls() -> None:
    moto = start_moto()
    try:
        host, port = moto.get_host_and_port()
        connection = http.client.HTTPConnection(host, port, timeout=10)
        sockets = []
        for _ in range(3):
            connection.request(
                "POST",
                "/",
                body=b"{}",
                headers={
                    "X-Amz-Target": "DynamoDB_20120810.ListTables",
                    "Content-Type": "application/x-amz-json-1.0",
                    "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{SCOPE}",
                },
            )
            answer = connection.getresponse()
            assert answer.status == 200 and "TableNames" in json.loads(answer.read())
            assert answer.getheader("Connection") is None
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets.count(sockets[0]) == 3  # one connection carried all
    finally:
        moto.stop()


def test_moto_in_its_own_process_serves_and_stops() -> None:
    moto = start_moto(own_process=True)
    try:
        host, port = moto.get_host_and_port()
        dynamodb = clients(f"http://{host}:{port}")[0]
        assert "TableNames" in dynamodb.list_tables()
    finally:
        moto.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection(host, port, timeout=2).connect()
