"""Delivery reports in every transport of the reference (§5), and the checks that keep the store safe."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from bulksms.domain.reports import MAX_BODY_BYTES, InvalidReport, parse_report, request_fields
from bulksms.domain.status import RecipientStatus, statuses_below

JOB = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
MSG = "3a1c2c09e48c3abd0000000000000001"
FIELDS = {
    "api_id": "3456789",
    "apiMsgId": MSG,
    "cliMsgId": JOB,
    "timestamp": "1400000000",
    "to": "27831234567",
    "from": "27820000000",
    "status": "004",
    "charge": "0.300000",
}
XML = "<callback>" + "".join(f"<{k}>{v}</{k}>" for k, v in FIELDS.items()) + "</callback>"


def _report(query: list[tuple[str, str]], content_type: str | None = None, body: bytes = b"") -> object:
    return parse_report(request_fields(query, content_type, body))


@pytest.mark.parametrize(
    ("query", "content_type", "body"),
    [
        pytest.param(list(FIELDS.items()), None, b"", id="GET query"),
        pytest.param([], "application/x-www-form-urlencoded", urlencode(FIELDS).encode(), id="POST form"),
        pytest.param([("data", XML)], None, b"", id="XML GET data="),
        pytest.param(
            [], "application/x-www-form-urlencoded", urlencode({"data": XML}).encode(), id="XML POST data="
        ),
        pytest.param([], "text/xml", XML.encode(), id="XML body"),
        pytest.param([], "application/json", json.dumps(FIELDS).encode(), id="JSON POST"),
        pytest.param(
            [], None, json.dumps({k.upper(): v for k, v in FIELDS.items()}).encode(), id="JSON upper case"
        ),
        pytest.param(
            [(k.lower(), v) for k, v in FIELDS.items()], None, b"", id="lower-case names (SOAP spelling)"
        ),
    ],
)
def test_every_transport_reads_the_same_report(
    query: list[tuple[str, str]], content_type: str | None, body: bytes
) -> None:
    report = _report(query, content_type, body)
    assert report == _report(list(FIELDS.items()))
    assert (report.api_message_id, report.job_id, report.to) == (MSG, JOB, "27831234567")  # type: ignore[attr-defined]
    assert report.status is RecipientStatus.DELIVERED  # type: ignore[attr-defined]
    assert report.fields() == {  # type: ignore[attr-defined]
        "delivery_status": "004",
        "api_message_id": MSG,
        "charge": "0.300000",
        "reported_at": "1400000000",
    }


@pytest.mark.parametrize("to", ["+27831234567", " 27831234567"])  # a query's `+` arrives as a space
def test_to_with_or_without_plus(to: str) -> None:
    assert _report(list({**FIELDS, "to": to}.items())).to == "27831234567"  # type: ignore[attr-defined]


def test_a_failure_records_its_code_and_text() -> None:
    report = parse_report({k.lower(): v for k, v in {**FIELDS, "status": "7"}.items()})
    assert report.status_code == "007" and report.status is RecipientStatus.FAILED
    assert report.fields()["error_code"] == "007"
    assert report.fields()["error"] == "Error delivering message"


def test_a_client_message_id_that_is_not_ours_is_kept_apart() -> None:
    assert parse_report({k.lower(): v for k, v in {**FIELDS, "cliMsgId": "order-42"}.items()}).job_id is None
    assert parse_report({k.lower(): v for k, v in FIELDS.items() if k != "cliMsgId"}).job_id is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"apiMsgId": None}, "apiMsgId is missing"),
        ({"apiMsgId": "x" * 65}, "apiMsgId is not a Clickatell message id"),
        ({"apiMsgId": "abc;drop"}, "apiMsgId is not a Clickatell message id"),
        ({"to": None}, "to is missing"),
        ({"to": "2" * 16}, "to is not a phone number of at most 15 digits"),
        ({"to": "2" * 2000}, "to is not a phone number"),
        ({"to": "0831234567x"}, "to is not a phone number"),
        ({"status": None}, "status is missing"),
        ({"status": "delivered"}, "status is not a Clickatell status code"),
        ({"status": "0004"}, "status is not a Clickatell status code"),
        ({"charge": "1" * 500_000}, "charge is not a decimal number"),
        ({"charge": "-1"}, "charge is not a decimal number"),
        ({"timestamp": "1" * 500_000}, "timestamp is not a time"),
        ({"timestamp": "<script>"}, "timestamp is not a time"),
    ],
)
def test_fields_are_checked_and_bounded(changes: dict[str, str | None], reason: str) -> None:
    fields = {k.lower(): v for k, v in {**FIELDS, **changes}.items() if v is not None}
    with pytest.raises(InvalidReport, match=reason):
        parse_report(fields)


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("application/x-www-form-urlencoded", b"to=\xff\xfe", "not UTF-8"),
        ("application/json", b"[1, 2]", "JSON body must be an object"),
        ("application/json", b"{not json", "not valid JSON"),
        ("text/xml", b"<callback><to>1</callback>", "well-formed XML"),
        ("text/xml", b"<report><to>1</to></report>", "root must be <callback>"),
        (
            "text/xml",
            b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><callback><to>&b;</to></callback>',
            "well-formed XML",  # entity expansion (billion laughs) is refused, not expanded
        ),
        ("application/x-www-form-urlencoded", b"just some words", "neither a form, XML nor a JSON"),
        (None, b"a" * (MAX_BODY_BYTES + 1), "larger than"),
    ],
)
def test_bodies_that_are_no_report_are_refused_with_a_reason(
    content_type: str | None, body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidReport, match=reason):
        request_fields([], content_type, body)


def test_the_write_condition_is_every_status_below_the_new_one() -> None:
    assert set(statuses_below(RecipientStatus.SUBMITTED)) == {RecipientStatus.QUEUED, RecipientStatus.UNKNOWN}
    assert set(statuses_below(RecipientStatus.DELIVERED)) == {
        RecipientStatus.QUEUED,
        RecipientStatus.UNKNOWN,
        RecipientStatus.SUBMITTED,
    }
    assert statuses_below(RecipientStatus.QUEUED) == ()
