"""The One API's request body, answers (the `clickatell-api` crate's sample answers among them),
refusals of options it lacks, and the callback mapping onto the legacy report fields."""

from __future__ import annotations

import json

import pytest
from bulksms.domain import one_api
from bulksms.domain.attempts import RecipientResult
from bulksms.domain.encoding import encode_text
from bulksms.domain.message import FLASH, Encoding, Message
from bulksms.domain.reports import InvalidReport
from bulksms.domain.status import RecipientStatus, delivery_status
from hypothesis import given
from hypothesis import strategies as st

S = RecipientStatus
JOB = "0123456789abcdef0123456789abcdef"


def _message(text: str = "Your code is 1234", encoding: str = "auto", **extra: object) -> Message:
    encoded = encode_text(text, encoding, udh=extra.pop("udh", None))  # type: ignore[arg-type]
    return Message(encoded.encoding, encoded.payload, encoded.parts, udh=encoded.udh, **extra)  # type: ignore[arg-type]


# --- request ---------------------------------------------------------------------------------------


def test_request_is_one_message_object_per_number_whose_client_message_id_names_job_and_number() -> None:
    body = json.loads(one_api.build_request(_message(sender="27820000000"), ["27821", "27822"], JOB))
    assert body == {
        "messages": [
            {
                "channel": "sms",
                "content": "Your code is 1234",
                "clientMessageId": one_api.recipient_message_id(JOB, n),
                "from": "27820000000",
                "to": n,
            }
            for n in ("27821", "27822")
        ]
    }
    assert [one_api.recipient_of(m["clientMessageId"]) for m in body["messages"]] == [
        (JOB, "27821"),
        (JOB, "27822"),
    ]


@given(
    job=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    number=st.from_regex(r"[1-9][0-9]{0,14}", fullmatch=True),
)
def test_a_recipient_message_id_gives_back_its_job_and_number_within_32_characters(
    job: str, number: str
) -> None:
    reference = one_api.recipient_message_id(job, number)
    assert len(reference) <= 32 and one_api.recipient_of(reference) == (job, number)


@pytest.mark.parametrize("reference", [JOB, "order-42", "", "A" * 31, "!" * 31, JOB[:31]])
def test_anything_else_names_no_recipient(reference: str) -> None:
    assert one_api.recipient_of(reference) is None


def test_a_reference_that_is_not_a_job_id_is_sent_as_it_is() -> None:
    assert one_api.recipient_message_id("order-42", "27821") == "order-42"
    assert one_api.recipient_message_id(JOB, "+27821") == JOB


def test_unicode_is_sent_as_the_text_itself_not_as_ucs2_hex() -> None:
    text = "Привет Ω 😀"
    message = _message(text)
    assert message.encoding is Encoding.UCS2
    raw = one_api.build_request(message, ["27821"], JOB)
    assert json.loads(raw.decode("utf-8"))["messages"][0]["content"] == text
    assert "from" not in json.loads(raw)["messages"][0]


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (_message("C0FFEE", "binary"), "encoding"),
        (_message("C0FFEE", "binary", udh="0605040B8423F0"), "udh"),
        (_message("Flash!", msg_type=FLASH), "msg_type"),
        (_message("plain GSM text", "ucs2"), "encoding"),
        *[(_message(callback=level), "callback") for level in (1, 2, 4, 5, 6)],
        (_message(validity=240), "validity_minutes"),
        (_message(queue=1), "priority"),
    ],
)
def test_options_the_one_api_lacks_are_refused_naming_the_field(message: Message, field: str) -> None:
    refused = one_api.refusal(message)
    assert refused is not None and refused[0] == field and "One API" in refused[1]


@pytest.mark.parametrize(
    "message",
    [
        _message(),
        _message("Привет only", "ucs2"),
        _message(callback=3),
        _message(callback=7),
        _message(mo=True),
    ],
)
def test_what_the_one_api_can_carry_is_accepted(message: Message) -> None:
    assert one_api.refusal(message) is None


# --- answers ---------------------------------------------------------------------------------------

N1, N2 = "2799900001", "2799900002"
# clickatell-api 0.3.0, one_api/send_messages/message_response.rs, test_deserialize
CRATE_202 = (
    b'{"messages": [{"apiMessageId": "02ca87d5a95446e68b0ac36a0c2057f1", "accepted": true,'
    b' "to": "2799900001"}, {"apiMessageId": "b71d513be46f4b29b16c2f354c7eef07", "accepted": true,'
    b' "to": "2799900002"}], "error": null}'
)
CRATE_207 = (
    b'{"messages": [{"apiMessageId": "cd2d90701afe42cdb15e2670218d8567", "accepted": true,'
    b' "to": "2799900001"}, {"error": {"code": 23, "description": "Invalid or missing parameter: to ."},'
    b' "accepted": false, "to": "27999abcde"}], "error": null}'
)
CRATE_401 = b'{"error": {"code": 1, "description": "Invalid or missing integration API Key"}}'


def test_crate_202_every_number_submitted_with_its_id() -> None:
    verdict = one_api.judge_answer([N1, N2], 202, CRATE_202)
    assert not verdict.retry and verdict.stop is None
    assert verdict.results == (
        RecipientResult(N1, S.SUBMITTED, "02ca87d5a95446e68b0ac36a0c2057f1"),
        RecipientResult(N2, S.SUBMITTED, "b71d513be46f4b29b16c2f354c7eef07"),
    )


def test_crate_207_refused_message_fails_with_its_code() -> None:
    verdict = one_api.judge_answer([N1, "27999abcde"], 207, CRATE_207)
    assert verdict.results[0] == RecipientResult(N1, S.SUBMITTED, "cd2d90701afe42cdb15e2670218d8567")
    assert verdict.results[1] == RecipientResult(
        "27999abcde", S.FAILED, error_code="23", error="Invalid or missing parameter: to ."
    )
    assert verdict.stop is None


@pytest.mark.parametrize("code", [21, 22, 41])
def test_a_request_level_error_that_is_not_the_account_fails_the_chunk_only(code: int) -> None:
    body = json.dumps({"error": {"code": code, "description": "d"}}).encode()
    verdict = one_api.judge_answer([N1, N2], 400, body)
    assert not verdict.retry and verdict.stop is None
    assert {(r.status, r.error_code) for r in verdict.results} == {(S.FAILED, str(code))}


def test_crate_401_request_level_error_fails_every_number_and_stops_the_job() -> None:
    verdict = one_api.judge_answer([N1, N2], 401, CRATE_401)
    assert not verdict.retry
    assert verdict.stop is not None and verdict.stop.code == "1"
    assert {r.status for r in verdict.results} == {S.FAILED}
    assert {r.error_code for r in verdict.results} == {"1"}


@pytest.mark.parametrize("code", [18, 19, 43])
def test_request_level_internal_error_or_rate_limit_is_retried(code: int) -> None:
    body = json.dumps({"messages": [], "error": {"code": code, "description": "x"}}).encode()
    assert one_api.judge_answer([N1], 503, body).retry


@pytest.mark.parametrize("status", [429, 502, 503])
def test_gateway_refusals_without_a_one_api_body_are_retried(status: int) -> None:
    assert one_api.judge_answer([N1], status, b"<html>busy</html>").retry


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (504, b"<html>Gateway Time-out</html>"),
        (200, b"not json"),
        (202, b"[]"),
        (202, b'{"messages": "x", "error": null}'),
        (202, b'{"error": {"code": "one"}}'),
        (200, b"\xff\xfe"),
    ],
)
def test_an_answer_we_cannot_read_leaves_every_number_unknown(status: int, body: bytes) -> None:
    verdict = one_api.judge_answer([N1, N2], status, body)
    assert not verdict.retry
    assert {r.status for r in verdict.results} == {S.UNKNOWN}


def test_messages_that_cannot_be_attributed_leave_their_numbers_unknown_never_guessed() -> None:
    body = json.dumps(
        {
            "messages": [
                {"apiMessageId": "a1", "accepted": True, "to": N1},
                {"apiMessageId": "a2", "accepted": True, "to": N1},  # twice: only the first counts
                {"apiMessageId": "a3", "accepted": True, "to": "27000000000"},  # not ours
                {"accepted": True, "to": N2},  # accepted without an id
            ],
            "error": None,
        }
    ).encode()
    verdict = one_api.judge_answer([N1, N2], 202, body)
    assert verdict.results[0] == RecipientResult(N1, S.SUBMITTED, "a1")
    assert verdict.results[1].status is S.UNKNOWN and "not resent" in (verdict.results[1].error or "")
    assert len(verdict.unparsed) == 3


def test_a_number_echoed_with_a_plus_is_still_ours() -> None:
    body = b'{"messages": [{"apiMessageId": "a1", "accepted": true, "to": "+2799900001"}], "error": null}'
    assert one_api.judge_answer([N1], 202, body).results == (RecipientResult(N1, S.SUBMITTED, "a1"),)


@pytest.mark.parametrize(
    ("code", "stops"), [(20, True), (46, True), (45, False), (100, False), (25, False), (26, False)]
)
def test_per_message_account_errors_stop_the_job_other_errors_fail_their_number(
    code: int, stops: bool
) -> None:
    body = json.dumps(
        {
            "messages": [
                {"apiMessageId": "a1", "accepted": True, "to": N1},
                {"accepted": False, "to": N2, "error": {"code": code, "description": "d"}},
            ],
            "error": None,
        }
    ).encode()
    verdict = one_api.judge_answer([N1, N2], 207, body)
    assert verdict.results[0].status is S.SUBMITTED  # sent before the refusal: never recorded failed
    assert verdict.results[1] == RecipientResult(N2, S.FAILED, error_code=str(code), error="d")
    assert (verdict.stop is not None) is stops


# --- callbacks -------------------------------------------------------------------------------------

CALLBACK = {
    "integrationName": "My integration",
    "messageId": "a1b2c3",
    "requestId": "r1",
    "clientMessageId": JOB,
    "to": "27821234567",
    "from": "",
    "statusCode": 5,
    "status": "DEVICE_ACK",
    "statusDescription": "Device acknowledged delivery",
    "timestamp": 1506607698000,
}


def test_callback_maps_to_the_legacy_report_fields() -> None:
    assert one_api.report_fields(CALLBACK) == {
        "apiMsgId": "a1b2c3",
        "cliMsgId": JOB,
        "to": "27821234567",
        "status": "004",
        "timestamp": "1506607698",
    }


@pytest.mark.parametrize(
    ("code", "ours"),
    [
        (1, None),
        (2, S.SUBMITTED),
        (3, S.SUBMITTED),
        (4, S.SUBMITTED),
        (5, S.DELIVERED),
        (6, S.DELIVERED),
        (20, S.EXPIRED),
        (21, S.FAILED),
        (23, S.FAILED),
        (25, S.FAILED),
        (29, S.FAILED),
        (100, S.FAILED),
        (24, None),  # EMULATED: nothing we can use
        (999, None),
    ],
)
def test_status_codes_map_onto_our_status_model(code: int, ours: RecipientStatus | None) -> None:
    fields = one_api.report_fields({**CALLBACK, "statusCode": code})
    assert fields is not None and delivery_status(fields["status"]) == ours


@pytest.mark.parametrize(
    "callback",
    [
        None,
        [],
        "x",
        {},
        {"messageId": "m1"},
        {"to": "27821"},
        {"apiMsgId": "a1", "to": "27821", "status": "004"},  # a legacy report sent as JSON
    ],
)
def test_what_is_not_a_one_api_callback_gives_no_fields(callback: object) -> None:
    assert one_api.report_fields(callback) is None


def test_a_callback_without_status_code_changes_nothing() -> None:
    fields = one_api.report_fields({k: v for k, v in CALLBACK.items() if k != "statusCode"})
    assert fields is not None and fields["status"] == "001" and delivery_status("001") is None


def test_a_one_api_callback_body_is_read_by_the_report_path() -> None:
    from bulksms.domain.reports import parse_report, request_fields

    fields = request_fields([], "application/json", json.dumps(CALLBACK).encode())
    report = parse_report(fields)
    assert (report.api_message_id, report.job_id, report.to) == ("a1b2c3", JOB, "27821234567")
    assert report.status is S.DELIVERED and report.status_code == "004"
    assert report.timestamp == "1506607698" and report.charge is None


# The One API's status callback (docs.clickatell.com technical FAQ "Which parameter in the update status
# callback payload matches to the apiMessageId", and help.clickatell.com "One API Client Callbacks").
UPDATE = {
    "channel": "sms",
    "timestamp": 1506607698860,
    "statusCode": 5,
    "status": "DEVICE_ACK",
    "messageId": "77fb29998253415fa5d66971d519d362",
    "clientMessageId": JOB,
}


def _status_callback(updates: object) -> dict[str, object]:
    return {
        "integrationId": "i1",
        "integrationName": "My integration",
        "event": {"messageStatusUpdate": updates},
    }


def test_every_update_of_a_status_callback_maps_to_report_fields_in_order() -> None:
    from bulksms.domain.reports import parse_report, request_reports

    ours = one_api.recipient_message_id(JOB, "27829999999")
    updates = [
        {**UPDATE, "to": "+27821234567"},
        {**UPDATE, "statusCode": 23, "messageId": "m2", "clientMessageId": ours},  # as documented: no `to`
        {**UPDATE, "messageId": "m3"},  # no `to`, and a clientMessageId that names no number
    ]
    assert one_api.status_updates(_status_callback(updates)) == [
        {
            "apiMsgId": UPDATE["messageId"],
            "cliMsgId": JOB,
            "status": "004",
            "to": "27821234567",
            "timestamp": "1506607698",
        },
        {"apiMsgId": "m2", "cliMsgId": JOB, "status": "007", "to": "27829999999", "timestamp": "1506607698"},
        {"apiMsgId": "m3", "cliMsgId": JOB, "status": "004", "timestamp": "1506607698"},
    ]
    first, second, third = request_reports(
        [], "application/json", json.dumps(_status_callback(updates)).encode()
    )
    assert parse_report(first).status is S.DELIVERED and parse_report(first).to == "27821234567"
    assert parse_report(second).to == "27829999999" and parse_report(second).job_id == JOB
    with pytest.raises(InvalidReport, match="to is missing"):
        parse_report(third)


def test_a_flat_or_legacy_json_report_is_one_report() -> None:
    from bulksms.domain.reports import request_reports

    assert (
        one_api.status_updates(CALLBACK) is None and one_api.status_updates({"event": {"moText": []}}) is None
    )
    [fields] = request_reports([], "application/json", json.dumps(CALLBACK).encode())
    assert fields["apimsgid"] == "a1b2c3" and fields["to"] == "27821234567"


@pytest.mark.parametrize(
    ("updates", "reason"),
    [
        ([], "not a list"),
        ({"messageId": "m1"}, "not a list"),
        ("x", "not a list"),
        ([UPDATE] * (one_api.MAX_STATUS_UPDATES + 1), "101 updates, more than 100"),
    ],
)
def test_a_status_callback_we_cannot_read_is_refused_naming_why(updates: object, reason: str) -> None:
    from bulksms.domain.reports import request_reports

    with pytest.raises(InvalidReport, match=reason):
        request_reports([], "application/json", json.dumps(_status_callback(updates)).encode())


@pytest.mark.parametrize("update", ["x", None, {}, {**UPDATE, "messageId": 7}])
def test_an_update_we_cannot_read_is_refused_on_its_own(update: object) -> None:
    from bulksms.domain.reports import parse_report

    [fields] = one_api.status_updates(_status_callback([update])) or [{}]
    with pytest.raises(InvalidReport):
        parse_report({name.lower(): value for name, value in fields.items()})
