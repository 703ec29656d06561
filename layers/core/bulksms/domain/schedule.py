"""`send_at`: when a scheduled job may start, and the one-time schedule expression that starts it; the
timestamps jobs and entries carry (`iso`, `now_iso`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_AHEAD = timedelta(days=7)


class ScheduleError(ValueError):
    pass


def parse_send_at(text: str, now: datetime) -> datetime:
    """An ISO-8601 time with a zone, in the future and at most 7 days ahead, as UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as error:
        raise ScheduleError("not an ISO-8601 date and time, e.g. 2026-12-24T08:00:00Z") from error
    if when.tzinfo is None or when.utcoffset() is None:
        raise ScheduleError("needs a time zone, e.g. 2026-12-24T08:00:00Z or +02:00")
    when = when.astimezone(UTC)
    if when <= now:
        raise ScheduleError("is in the past: leave send_at out to send now")
    if when - now > MAX_AHEAD:
        raise ScheduleError("is more than 7 days ahead")
    return when


def at_expression(when: datetime) -> str:
    """EventBridge Scheduler's one-time expression for `when` (UTC), floored to its minute.

    The scheduler invokes its target at some second of the expression's minute ("60 second
    precision"), so the floor never fires later than that minute; a start that arrives before
    `send_at` waits the remaining seconds in the queue (service.scheduling).
    """
    return f"at({when.astimezone(UTC).replace(second=0, microsecond=0, tzinfo=None).isoformat()})"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))
