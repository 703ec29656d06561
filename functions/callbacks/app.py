"""Clickatell delivery callbacks (GET, POST form, XML, JSON, the One API's batched status updates) on a
Lambda function URL, authenticated by a token. The handler only checks and writes, so Clickatell gets
its answer fast."""

from __future__ import annotations

import binascii
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.domain.reports import DeliveryReport, InvalidReport, request_reports
from bulksms.function_url import request_body, text
from bulksms.service.delivery import ReportOutcome, apply_reports

logger = Logger()
metrics = Metrics()
app = LambdaFunctionUrlResolver()
ROUTE = "/v1/callbacks/clickatell"


@app.route(ROUTE, method=["GET", "POST"])
def clickatell_callback() -> Response[str]:
    event = app.current_event
    query = event.query_string_parameters or {}
    if not runtime.is_callback_token(query.get("token", "")):
        logger.warning("callback with a bad token refused")
        return text(403, "forbidden")
    try:
        body = request_body(event)
        fields = [(k, v) for k, v in query.items() if k != "token"]
        results = apply_reports(
            runtime.store(), request_reports(fields, event.headers.get("content-type"), body)
        )
    except (InvalidReport, binascii.Error) as error:
        results = [InvalidReport(str(error))]
    lines = [_record(result) for result in results]
    outcomes = {result[1] for result in results if not isinstance(result, InvalidReport)}
    # Clickatell retries a callback not answered with 2xx: worth it only while a send result is not
    # stored yet (re-applying the rest is harmless, every write is conditional). Nothing readable: 400.
    status = 503 if ReportOutcome.NOT_READY in outcomes else 200 if outcomes else 400
    return text(status, lines[0] if len(lines) == 1 else "\n".join(f"{i}: {x}" for i, x in enumerate(lines)))


def _record(result: tuple[DeliveryReport, ReportOutcome] | InvalidReport) -> str:
    """Log and count one report's result; the line the answer gives for it."""
    if isinstance(result, InvalidReport):
        metrics.add_metric(name="CallbackInvalid", unit="Count", value=1)
        logger.info("delivery report refused", extra={"reason": str(result)})
        return f"invalid: {result}"
    report, outcome = result
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
    return outcome.value


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
