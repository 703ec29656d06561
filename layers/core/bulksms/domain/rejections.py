"""Rejected numbers as the API echoes them: every value truncated, and the answer's sample bounded in
count and in bytes whatever the request held (the full list is stored and listed page by page)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from bulksms.domain.numbers import Rejection

ECHO_CHARS = 32  # far longer than any phone number (15 digits plus formatting)
TRUNCATED = "…[truncated]"
SAMPLE_COUNT = 100
# JSON as the API serialises it (\u escapes for non-ASCII): at most 12 bytes per echoed character.
SAMPLE_BYTES = 16_384


def echo(value: str) -> str:
    """The client's value cut to ECHO_CHARS characters, marked when something was cut."""
    return value if len(value) <= ECHO_CHARS else value[:ECHO_CHARS] + TRUNCATED


def entries(rejected: Iterable[Rejection]) -> list[dict[str, str]]:
    """`{"to", "reason"}` per rejected input, the value truncated."""
    return [{"to": echo(r.to), "reason": r.reason} for r in rejected]


def sample(listed: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The first entries that fit in SAMPLE_COUNT entries and SAMPLE_BYTES of JSON."""
    taken: list[Mapping[str, str]] = []
    size = 0
    for entry in listed[:SAMPLE_COUNT]:
        size += len(json.dumps(entry)) + 1
        if size > SAMPLE_BYTES:
            break
        taken.append(entry)
    return taken
