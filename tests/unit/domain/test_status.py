"""The recipient status ladder and Clickatell message status codes (API doc section 4)."""

from __future__ import annotations

import itertools

import pytest
from bulksms.domain.status import (
    DELIVERY_STATUS_TEXT,
    FINAL_RECIPIENT_STATUSES,
    RecipientStatus,
    can_move,
    delivery_status,
)

S = RecipientStatus
FINALS = [S.DELIVERED, S.FAILED, S.EXPIRED, S.CANCELLED]
LADDER = [S.QUEUED, S.UNKNOWN, S.SUBMITTED]


def test_final_statuses() -> None:
    assert set(FINAL_RECIPIENT_STATUSES) == set(FINALS)


@pytest.mark.parametrize(("low", "high"), list(itertools.combinations(LADDER, 2)))
def test_ladder_moves_up_not_down(low: RecipientStatus, high: RecipientStatus) -> None:
    assert can_move(low, high) is True
    assert can_move(high, low) is False


@pytest.mark.parametrize("final", FINALS)
@pytest.mark.parametrize("before", LADDER)
def test_every_non_final_status_can_reach_every_final(
    before: RecipientStatus, final: RecipientStatus
) -> None:
    assert can_move(before, final) is True
    assert can_move(final, before) is False


@pytest.mark.parametrize(("current", "new"), list(itertools.product(FINALS, list(S))))
def test_finals_never_move(current: RecipientStatus, new: RecipientStatus) -> None:
    assert can_move(current, new) is False


@pytest.mark.parametrize("status", list(S))
def test_same_status_is_not_a_move(status: RecipientStatus) -> None:
    assert can_move(status, status) is False


def test_a_late_submitted_cannot_undo_delivered_and_a_callback_resolves_unknown() -> None:
    assert can_move(S.DELIVERED, S.SUBMITTED) is False
    assert can_move(S.UNKNOWN, S.DELIVERED) is True
    assert can_move(S.UNKNOWN, S.SUBMITTED) is True
    assert can_move(S.SUBMITTED, S.UNKNOWN) is False


def test_every_status_is_on_the_ladder() -> None:
    for a, b in itertools.product(list(S), repeat=2):
        can_move(a, b)  # raises KeyError if a status were missing


EXPECTED = {
    "001": None,  # message unknown: tells nothing
    "002": S.SUBMITTED,  # queued for retry
    "003": S.SUBMITTED,  # delivered to gateway
    "004": S.DELIVERED,  # received by recipient
    "005": S.FAILED,  # error with message
    "006": S.FAILED,  # user cancelled delivery (after it was submitted)
    "007": S.FAILED,  # error delivering message
    "008": S.SUBMITTED,  # OK, accepted by gateway
    "009": S.FAILED,  # routing error
    "010": S.EXPIRED,  # message expired
    "011": S.SUBMITTED,  # queued for later delivery
    "012": S.FAILED,  # out of credit
    "013": None,  # absent from all sources
    "014": S.FAILED,  # maximum MT limit exceeded
}


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED.items()))
def test_delivery_status_codes(code: str, expected: RecipientStatus | None) -> None:
    assert delivery_status(code) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [("4", S.DELIVERED), ("04", S.DELIVERED), (" 010 ", S.EXPIRED), ("10", S.EXPIRED), ("1", None)],
)
def test_delivery_status_tolerates_missing_zero_padding(code: str, expected: RecipientStatus | None) -> None:
    assert delivery_status(code) == expected


@pytest.mark.parametrize("code", ["000", "015", "999", "", "abc", "0004"])
def test_unknown_codes_map_to_none(code: str) -> None:
    assert delivery_status(code) is None


def test_status_texts_match_the_api_doc() -> None:
    assert DELIVERY_STATUS_TEXT["004"] == "Received by recipient"
    assert DELIVERY_STATUS_TEXT["010"] == "Message expired"
    assert DELIVERY_STATUS_TEXT["014"] == "Maximum MT limit exceeded"
    assert "013" not in DELIVERY_STATUS_TEXT
    assert set(DELIVERY_STATUS_TEXT) == {c for c in EXPECTED if c != "013"}
