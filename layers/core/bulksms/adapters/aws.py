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


class LazyTable:
    """A DynamoDB table's boto3 `Table`, built on first use and kept: a resource builds a Table's
    actions and docstrings anew on every `Table()` call. `resource` is one a caller injected (tests),
    else the container's."""

    def __init__(self, name: str, resource: Any = None) -> None:
        self.name = name
        self._resource = resource
        self._table: Any = None

    def __call__(self) -> Any:
        if self._table is None:
            self._table = (self._resource or dynamodb()).Table(self.name)
        return self._table


def low_level_twin(resource: Any) -> Any:
    """A plain DynamoDB client for the region and endpoint of `resource` (one a caller injected): the
    resource's own client would serialise typed attribute values a second time."""
    meta = resource.meta.client.meta
    return boto3.client(
        "dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url, config=_CONFIG
    )
