"""Lambda events in the shapes AWS sends, built from the sample events in events/."""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


@cache
def _sample(name: str) -> dict[str, Any]:
    sample: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return sample


def _now_fields() -> tuple[str, int]:
    now = time.time()
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), int(now * 1000)


def rest_api_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
    api_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the `Api` event source of a function receives it."""
    event = copy.deepcopy(_sample("api_post_messages.json"))
    headers = dict(headers or {})
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    text_body, is_base64 = _body(body)
    request_time, epoch_ms = _now_fields()
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        headers=headers or None,
        multiValueHeaders={name: [value] for name, value in headers.items()} or None,
        queryStringParameters={name: values[-1] for name, values in multi_query.items()} or None,
        multiValueQueryStringParameters=multi_query or None,
        pathParameters=dict(path_parameters) if path_parameters else None,
        body=text_body,
        isBase64Encoded=is_base64,
    )
    context = event["requestContext"]
    context.update(
        resourcePath=resource,
        httpMethod=method,
        path=f"/{context['stage']}{path}",
        requestId=str(uuid.uuid4()),
        requestTime=request_time,
        requestTimeEpoch=epoch_ms,
    )
    context["identity"].update(sourceIp=source_ip, apiKey=api_key, userAgent=headers.get("User-Agent"))
    return event


def function_url_event(
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """A Lambda function URL event (payload 2.0)."""
    event = copy.deepcopy(_sample("callback_get.json"))
    text_body, is_base64 = _body(body)
    request_time, epoch_ms = _now_fields()
    query_params: dict[str, str] = {}
    for name, value in query:  # function URLs join repeated names with commas
        query_params[name] = f"{query_params[name]},{value}" if name in query_params else value
    event.update(
        rawPath=path,
        rawQueryString=urlencode(list(query)),
        headers={name.lower(): value for name, value in (headers or {}).items()},
        queryStringParameters=query_params or None,
        isBase64Encoded=is_base64,
    )
    if text_body is not None:
        event["body"] = text_body
    else:
        event.pop("body", None)
    event["requestContext"].update(requestId=str(uuid.uuid4()), time=request_time, timeEpoch=epoch_ms)
    event["requestContext"]["http"].update(method=method, path=path, sourceIp=source_ip)
    return event


def sqs_event(queue_arn: str, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS event-source batch. `messages` are SQS ReceiveMessage entries (with Attributes)."""
    template = _sample("sqs_send_batch.json")["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(template)
        attributes = message.get("Attributes", {})
        record.update(
            messageId=message["MessageId"],
            receiptHandle=message["ReceiptHandle"],
            body=message["Body"],
            md5OfBody=message.get("MD5OfBody", ""),
            eventSourceARN=queue_arn,
        )
        record["attributes"].update({k: v for k, v in attributes.items() if k in record["attributes"]})
        records.append(record)
    return {"Records": records}


def scheduled_event() -> dict[str, Any]:
    event = copy.deepcopy(_sample("sweeper_schedule.json"))
    event["id"] = str(uuid.uuid4())
    event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return event


def _body(body: bytes | None) -> tuple[str | None, bool]:
    if body is None or body == b"":
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def form_fields(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The form fields of a function URL event (query string and body), for tests."""
    fields = parse_qsl(event.get("rawQueryString", ""), keep_blank_values=True)
    if event.get("body"):
        fields += parse_qsl(event["body"], keep_blank_values=True)
    return fields
