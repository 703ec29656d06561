"""A local stack of the module's own (moto, simulator, gateway on free ports), isolated from any other
stack in the same pytest process.

The handlers keep per-container state in module-level caches (settings, boto3 clients, the store,
the queue) exactly as in Lambda; the local stack points them at its resources through os.environ.
Two stacks in one process would therefore share whatever the first one built. `isolated_stack`
clears those caches and restores os.environ on both sides, so it is correct whether or not
another suite's session stack (tests/integration/conftest.py) is alive in the same process. moto's
backends are per process too, so each stack names its resources with a prefix of its own.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local.aws_env import clients
from local.stack import LocalStack, StackConfig

API_KEY = "contract-test-key"
# moto keeps one set of backends per process, shared by every moto server in it: each stack needs
# resource names of its own.
_STACK_NUMBERS = itertools.count(1)


def reset_container_caches() -> None:
    """Forget every cached per-container object of the layer, as a new Lambda container would."""
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "bulksms" or name.startswith("bulksms.")):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


@contextmanager
def isolated_stack(**overrides: Any) -> Iterator[LocalStack]:
    """A fresh stack with no pollers: the test drives the sender itself, when it wants to."""
    saved = dict(os.environ)
    reset_container_caches()
    settings: dict[str, Any] = {
        "api_port": 0,
        "moto_port": 0,
        "sim_port": 0,
        "api_key": API_KEY,
        "pollers": False,
        "sim_seed": 7,
        "sweep_every_s": 3600,
        "prefix": f"bulksms-isolated-{next(_STACK_NUMBERS)}",
        **overrides,
    }
    try:
        with LocalStack(StackConfig(**settings)) as stack:
            yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_container_caches()


def table_items(stack: LocalStack) -> list[dict[str, Any]]:
    dynamodb = clients(stack.endpoint)[0]
    pages = dynamodb.get_paginator("scan").paginate(TableName=stack.resources.refs["Table"])
    return [item for page in pages for item in page["Items"]]


@pytest.fixture(scope="module")
def own_stack() -> Iterator[LocalStack]:
    with isolated_stack() as stack:
        yield stack
