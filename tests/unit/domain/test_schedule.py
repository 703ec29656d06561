"""`send_at` parsing and the one-time schedule expression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bulksms.domain.schedule import ScheduleError, at_expression, iso, parse_send_at

NOW = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T10:05:00Z", datetime(2026, 12, 1, 10, 5, tzinfo=UTC)),
        ("2026-12-01T12:05:00+02:00", datetime(2026, 12, 1, 10, 5, tzinfo=UTC)),
        ("2026-12-08T10:00:00Z", NOW + timedelta(days=7)),  # exactly 7 days ahead is allowed
    ],
)
def test_send_at_with_a_zone_becomes_utc(text: str, expected: datetime) -> None:
    assert parse_send_at(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-12-01T10:05:00", "time zone"),
        ("tomorrow", "ISO-8601"),
        ("2026-12-01T09:59:59Z", "past"),
        ("2026-12-01T10:00:00Z", "past"),
        ("2026-12-08T10:00:01Z", "7 days"),
    ],
)
def test_bad_send_at_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason):
        parse_send_at(text, NOW)


def test_at_expression_is_floored_to_the_minute_in_utc() -> None:
    # EventBridge Scheduler fires within the expression's minute: the floor never fires later.
    when = datetime(2026, 12, 24, 10, 0, 42, 500_000, tzinfo=UTC)
    assert at_expression(when) == "at(2026-12-24T10:00:00)"
    assert at_expression(when.astimezone(UTC).replace(second=0)) == "at(2026-12-24T10:00:00)"


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(datetime(2026, 12, 24, 10, 0, 42, 500_000, tzinfo=UTC)) == "2026-12-24T10:00:42.500Z"
