"""DynamoDB calls of every kind on moto (in-process), printed as one JSON document: what
test_moto_speedups.py runs with and without local.moto_speedups (`--speedups`) and compares.

Run as `python -m tests.integration.moto_scenario [--speedups]` from the project's root.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

Value = dict[str, Any]
TABLE = "t"


def S(value: str) -> Value:
    return {"S": value}


def N(value: int) -> Value:
    return {"N": str(value)}


def key(i: int) -> Value:
    return {"pk": S("p"), "sk": S(f"r{i}")}


class Calls:
    """Makes each call and keeps its answer, its error, or the exception moto itself raised."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.answers: list[list[Any]] = []

    def __call__(self, operation: str, **request: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            answer = getattr(self.client, operation)(**request)
        except ClientError as error:
            reply = error.response
            self.answers.append(
                ["error", operation, reply["Error"], reply.get("Item"), reply.get("CancellationReasons")]
            )
        except Exception as crash:  # moto has bugs of its own (a KeyError for an unknown name)
            self.answers.append(["crash", operation, type(crash).__name__, str(crash)])
        else:
            answer.pop("ResponseMetadata", None)
            self.answers.append(["ok", operation, answer])


def reports(call: Calls) -> None:
    """The product's report write: applied, repeated, from another message, on another recipient."""
    condition = "#status IN (:b0, :b1) AND (attribute_not_exists(api_message_id) OR api_message_id = :id)"
    for i, (new, message) in enumerate(
        [("delivered", "m0"), ("delivered", "m0"), ("failed", "other"), ("delivered", "m2")]
    ):
        call(
            "update_item",
            TableName=TABLE,
            Key=key(i % 3),
            UpdateExpression="SET #status = :new, updated_at = :now, #f0 = :f0",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", "#f0": "delivery_status"},
            ExpressionAttributeValues={
                ":new": S(new),
                ":now": S(f"t{i}"),
                ":f0": S("004"),
                ":b0": S("submitted"),
                ":b1": S("unknown"),
                ":id": S(message),
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )


def updates(call: Calls) -> None:
    """Every kind of update, each validation error, and expressions again with other values."""
    append = "SET n = n + :one, l = list_append(if_not_exists(l, :empty), :more)"
    cases: list[tuple[str, dict[str, str], dict[str, Value]]] = [
        (append, {}, {":one": N(1), ":empty": {"L": []}, ":more": {"L": [S("d")]}}),
        ("REMOVE l[0], l[2]", {}, {}),
        ("SET m.x.y = :v, m.#k[1] = :w", {"#k": "k"}, {":v": N(5), ":w": N(7)}),
        (
            "ADD n :two, ss :more DELETE ss :less",
            {},
            {":two": N(2), ":more": {"SS": ["z"]}, ":less": {"SS": ["a"]}},
        ),
        ("SET a = :v", {}, {":v": S("x"), ":unused": S("y")}),
        ("SET #missing = :v", {}, {":v": S("x")}),
        ("SET a = :v, a = :w", {}, {":v": S("x"), ":w": S("y")}),
        ("SET sk = :v", {}, {":v": S("x")}),
        ("SET = :v", {}, {":v": S("x")}),
        ("SET a = :v SET b = :w", {}, {":v": S("x"), ":w": S("y")}),
        ("SET a = nothere + :v", {}, {":v": N(1)}),
        ("ADD ss :v", {}, {":v": S("x")}),
        ("SET a = :v", {}, {}),
        ("SET a = :v", {}, {":v": S("")}),
        ("SET a = :v", {}, {":v": S("again")}),
        (append, {}, {":one": N(3), ":empty": {"L": []}, ":more": {"L": [S("e")]}}),
    ]
    for expression, names, values in cases:
        request: dict[str, Any] = {"UpdateExpression": expression}
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        call("update_item", TableName=TABLE, Key=key(3), ReturnValues="ALL_NEW", **request)


def conditions(call: Calls) -> None:
    """Condition and filter expressions, valid and not, on updates, puts, queries and scans."""
    cases: list[tuple[str, dict[str, Value]]] = [
        ("attribute_exists(l) AND size(l) > :n", {":n": N(1)}),
        (
            "begins_with(api_message_id, :p) OR NOT n BETWEEN :lo AND :hi",
            {":p": S("m"), ":lo": N(0), ":hi": N(2)},
        ),
        ("status = :v", {":v": S("x")}),
        ("n <> :v AND (", {":v": N(1)}),
        ("contains(ss, :v)", {":v": S("b")}),
        ("attribute_type(m, :t)", {":t": S("M")}),
    ]
    for expression, values in cases:
        for i in range(2):
            call(
                "update_item",
                TableName=TABLE,
                Key=key(i),
                UpdateExpression="SET checked = :c",
                ConditionExpression=expression,
                ExpressionAttributeValues={**values, ":c": N(i)},
            )
        call(
            "put_item",
            TableName=TABLE,
            Item={**key(9), "n": N(1)},
            ConditionExpression=expression,
            ExpressionAttributeValues=values,
        )
        call(
            "query",
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            FilterExpression=expression,
            ExpressionAttributeValues={**values, ":pk": S("p")},
        )
        call("scan", TableName=TABLE, FilterExpression=expression, ExpressionAttributeValues=values)


def transactions_and_deletes(call: Calls) -> None:
    for value, checked in (("1", 1), ("2", 5)):  # the second is cancelled: item 5 does not exist
        update = {"TableName": TABLE, "Key": key(0), "UpdateExpression": "SET tx = :v"}
        check = {"TableName": TABLE, "Key": key(checked), "ConditionExpression": "attribute_exists(pk)"}
        call(
            "transact_write_items",
            TransactItems=[
                {"Update": {**update, "ExpressionAttributeValues": {":v": S(value)}}},
                {"ConditionCheck": check},
            ],
        )
    for status in ("failed", "submitted"):
        call(
            "delete_item",
            TableName=TABLE,
            Key=key(2),
            ConditionExpression="#s = :v",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":v": S(status)},
        )


def main(argv: list[str]) -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    import boto3
    from moto import mock_aws
    from moto.dynamodb.models import dynamodb_backends

    if argv == ["--speedups"]:
        from local import moto_speedups

        moto_speedups.install()
    mock_aws().start()
    client = boto3.client("dynamodb", region_name="us-east-1")
    attribute = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=attribute,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    call = Calls(client)
    nested = {"M": {"x": {"M": {"y": N(1)}}, "k": {"L": [N(1), N(2)]}}}
    for i in range(4):
        item = {**key(i), "status": S("submitted"), "api_message_id": S(f"m{i}"), "n": N(i)}
        call(
            "put_item",
            TableName=TABLE,
            Item={**item, "l": {"L": [S("a"), S("b"), S("c")]}, "m": nested, "ss": {"SS": ["a", "b"]}},
        )
    reports(call)
    updates(call)
    conditions(call)
    transactions_and_deletes(call)
    items = sorted(client.scan(TableName=TABLE)["Items"], key=lambda item: item["sk"]["S"])
    shard = dynamodb_backends["123456789012"]["us-east-1"].get_table(TABLE).stream_shard
    stream = [
        [r.record["eventName"], r.record["dynamodb"].get("OldImage"), r.record["dynamodb"].get("NewImage")]
        for r in shard.items
    ]
    print(
        json.dumps({"answers": call.answers, "items": items, "stream": stream}, sort_keys=True, default=str)
    )


if __name__ == "__main__":
    main(sys.argv[1:])
