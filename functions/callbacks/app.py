"""Clickatell delivery callbacks (GET, POST form, XML, JSON) on a Lambda function URL, authenticated by a
token. The handler only checks and writes, so Clickatell gets its answer fast."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.domain.reports import InvalidReport, parse_report, request_fields
from bulksms.service.delivery import ReportOutcome, apply_report

logger = Logger()
metrics = Metrics()
app = LambdaFunctionUrlResolver()
ROUTE = "/v1/callbacks/clickatell"
# Clickatell retries a callback that was not answered with 2xx; only a not-yet-stored send result
# is worth a retry, everything else is answered 200 so it is not retried for days.
_STATUS = {ReportOutcome.NOT_READY: 503}


def _text(status: int, body: str) -> Response[str]:
    return Response(status_code=status, content_type=content_types.TEXT_PLAIN, body=body)


@app.route(ROUTE, method=["GET", "POST"])
def clickatell_callback() -> Response[str]:
    event = app.current_event
    query = event.query_string_parameters or {}
    token = query.get("token", "")
    if not hmac.compare_digest(token.encode(), runtime.callback_token().encode()):
        logger.warning("callback with a bad token refused")
        return _text(403, "forbidden")
    try:
        raw = event.body or ""
        body = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
        fields = request_fields(
            [(k, v) for k, v in query.items() if k != "token"], event.headers.get("content-type"), body
        )
        report = parse_report(fields)
    except (InvalidReport, binascii.Error) as error:
        metrics.add_metric(name="CallbackInvalid", unit="Count", value=1)
        logger.info("delivery report refused", extra={"reason": str(error)})
        return _text(400, f"invalid: {error}")
    outcome = apply_report(runtime.store(), report)
    logger.info(
        "delivery report",
        extra={
            "outcome": outcome.value,
            "job_id": report.job_id,
            "api_message_id": report.api_message_id,
            "status": report.status_code,
        },
    )
    metrics.add_metric(name=f"Callback{outcome.value.title().replace('_', '')}", unit="Count", value=1)
    return _text(_STATUS.get(outcome, 200), outcome.value)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
