"""Split a job's recipients into `sendmsg` chunks and chunks into queue messages."""

from __future__ import annotations

from collections.abc import Sequence


def split(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [tuple(items[start : start + size]) for start in range(0, len(items), size)]


def group_indexes(count: int, per_group: int) -> list[list[int]]:
    """Chunk numbers 0..count-1 grouped for one queue message each."""
    if per_group < 1:
        raise ValueError("group size must be at least 1")
    return [list(range(start, min(start + per_group, count))) for start in range(0, count, per_group)]
