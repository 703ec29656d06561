"""Echoed rejections: values truncated with a marker, the sample capped in count and in bytes."""

from __future__ import annotations

import json

from bulksms.domain.numbers import Rejection
from bulksms.domain.rejections import ECHO_CHARS, SAMPLE_BYTES, SAMPLE_COUNT, TRUNCATED, echo, entries, sample


def test_short_values_are_echoed_as_sent_and_long_ones_cut_with_the_marker() -> None:
    assert echo("0821234567") == "0821234567"
    assert echo("x" * ECHO_CHARS) == "x" * ECHO_CHARS
    assert echo("😀" * (ECHO_CHARS + 1)) == "😀" * ECHO_CHARS + TRUNCATED
    assert entries([Rejection("9" * 10_000, "too long")]) == [
        {"to": "9" * ECHO_CHARS + TRUNCATED, "reason": "too long"}
    ]


def test_the_sample_is_capped_in_count() -> None:
    small = [{"to": str(i), "reason": "r"} for i in range(SAMPLE_COUNT * 3)]
    assert sample(small) == small[:SAMPLE_COUNT]


def test_the_sample_is_capped_in_bytes_of_the_answers_json() -> None:
    worst = entries([Rejection("😀" * 1000, "not digits: " + "x" * 60)] * SAMPLE_COUNT)
    taken = sample(worst)
    assert 0 < len(taken) < SAMPLE_COUNT
    assert len(json.dumps(taken)) <= SAMPLE_BYTES
    assert len(json.dumps(worst[: len(taken) + 1])) > SAMPLE_BYTES
