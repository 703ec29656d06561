"""`sendmsg`'s delivery parameters checked like Clickatell (reference section 1): `validity`
(minutes, 1-1440), `queue` (1-3), `deliv_time` (minutes of delay, at most 10080; ERR 120) and
`scheduled_time` (a UNIX time or YYYY-MM-DDTHH:mm:ssZ, at most 7 days ahead, 5 minutes of slack;
ERR 120). The simulator accepts a deferred message like any other: it checks, it does not wait."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from local.simulator.answers import Record
from local.simulator.rules import err

MAX_VALIDITY_MINUTES = 1440
MAX_DELAY_MINUTES = 7 * 24 * 60
SLACK_SECONDS = 5 * 60
_INT = re.compile(r"[0-9]{1,9}")
_UNIX_TIME = re.compile(r"[0-9]{1,12}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _scheduled_at(value: str) -> float | None:
    if _UNIX_TIME.fullmatch(value):
        return float(value)
    if _ISO.fullmatch(value):
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return None
    return None


def check_delivery(params: Mapping[str, str], now: float) -> Record | None:
    """The request-level ERR for a bad delivery parameter, or None."""
    validity = params.get("validity")
    if validity is not None and not (_INT.fullmatch(validity) and 1 <= int(validity) <= MAX_VALIDITY_MINUTES):
        return err("101")
    queue = params.get("queue")
    if queue is not None and queue not in ("1", "2", "3"):
        return err("101")
    deliv_time = params.get("deliv_time")
    if deliv_time is not None and not (_INT.fullmatch(deliv_time) and int(deliv_time) <= MAX_DELAY_MINUTES):
        return err("120")
    scheduled = params.get("scheduled_time")
    if scheduled is not None:
        at = _scheduled_at(scheduled)
        if at is None or at < now - SLACK_SECONDS or at > now + MAX_DELAY_MINUTES * 60 + SLACK_SECONDS:
            return err("120")
    return None
