"""Suppression entries are keyed by the number exactly as a recipient is normalised, so an entry
added in one spelling suppresses every spelling a job may use."""

from __future__ import annotations

import pytest
from bulksms.domain.numbers import parse_recipients
from bulksms.service.errors import RequestError
from bulksms.service.suppressions import normalised


@pytest.mark.parametrize(
    "spelling",
    ["27821234567", "+27821234567", "0027821234567", "+27 82 123 4567", "27-82-123-4567", "(27) 82.123.4567"],
)
def test_every_spelling_is_the_recipient_number(spelling: str) -> None:
    assert normalised(spelling) == "27821234567" == parse_recipients([spelling]).accepted[0]


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ("0821234567", "leading 0"),
        ("2782", "too short"),
        ("27821234567890123", "too long"),
        ("abc", "digits"),
    ],
)
def test_an_unusable_number_is_a_400_naming_the_field(spelling: str, reason: str) -> None:
    with pytest.raises(RequestError) as raised:
        normalised(spelling)
    assert (raised.value.status, raised.value.field) == (400, "number")
    assert reason in raised.value.message
