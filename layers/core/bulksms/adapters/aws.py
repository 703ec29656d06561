"""boto3 clients, created once per container on first use and shared by every thread."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; the pool covers one connection per sender thread.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)


@cache
def dynamodb() -> Any:
    """A DynamoDB resource; its `meta.client` (de)serialises plain Python values for every call."""
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


@cache
def dynamodb_client() -> Any:
    """A plain DynamoDB client, for libraries that send typed attribute values themselves."""
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def scheduler() -> Any:
    return boto3.client("scheduler", config=_CONFIG)


def low_level_twin(resource: Any) -> Any:
    """A plain DynamoDB client for the region and endpoint of `resource` (one a caller injected): the
    resource's own client would serialise typed attribute values a second time."""
    meta = resource.meta.client.meta
    return boto3.client(
        "dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url, config=_CONFIG
    )
