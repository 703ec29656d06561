"""Chunking recipients into `sendmsg` POSTs and chunks into queue messages."""

from __future__ import annotations

import itertools

import pytest
from bulksms.domain.chunks import group_indexes, split
from hypothesis import given
from hypothesis import strategies as st


def test_split_examples() -> None:
    assert split(["a", "b", "c", "d", "e"], 2) == [("a", "b"), ("c", "d"), ("e",)]
    assert split(["a", "b", "c", "d"], 2) == [("a", "b"), ("c", "d")]
    assert split(["a"], 600) == [("a",)]
    assert split([], 600) == []


def test_split_600_numbers_of_1201() -> None:
    numbers = [f"2799900{i:04d}" for i in range(1201)]
    chunks = split(numbers, 600)
    assert [len(c) for c in chunks] == [600, 600, 1]
    assert chunks[1][0] == numbers[600]


@pytest.mark.parametrize("size", [0, -1, -600])
def test_split_rejects_invalid_sizes(size: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split(["a"], size)


@pytest.mark.parametrize("size", [0, -1])
def test_split_rejects_invalid_sizes_even_for_no_items(size: int) -> None:
    with pytest.raises(ValueError):
        split([], size)


@given(items=st.lists(st.text(max_size=3), max_size=300), size=st.integers(1, 50))
def test_split_properties(items: list[str], size: int) -> None:
    chunks = split(items, size)
    assert all(isinstance(c, tuple) for c in chunks)
    assert all(1 <= len(c) <= size for c in chunks)
    assert all(len(c) == size for c in chunks[:-1])  # only the last chunk may be short
    assert list(itertools.chain.from_iterable(chunks)) == items
    assert len(chunks) == -(-len(items) // size)


def test_group_indexes_examples() -> None:
    assert group_indexes(5, 2) == [[0, 1], [2, 3], [4]]
    assert group_indexes(4, 4) == [[0, 1, 2, 3]]
    assert group_indexes(1, 10) == [[0]]
    assert group_indexes(0, 10) == []


@pytest.mark.parametrize("per_group", [0, -1])
def test_group_indexes_rejects_invalid_sizes(per_group: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        group_indexes(3, per_group)


@given(count=st.integers(0, 2000), per_group=st.integers(1, 40))
def test_group_indexes_cover_every_chunk_once_in_order(count: int, per_group: int) -> None:
    groups = group_indexes(count, per_group)
    assert list(itertools.chain.from_iterable(groups)) == list(range(count))
    assert all(1 <= len(g) <= per_group for g in groups)
    assert all(len(g) == per_group for g in groups[:-1])
    assert len(groups) == -(-count // per_group)
