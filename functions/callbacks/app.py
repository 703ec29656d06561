"""Clickatell delivery callbacks (GET or POST form) on a Lambda function URL, authenticated by a token."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.service.delivery import ReportOutcome, apply_report, parse_report

logger = Logger()
metrics = Metrics()
app = LambdaFunctionUrlResolver()
ROUTE = "/v1/callbacks/clickatell"
# Clickatell retries a callback that was not answered with 2xx; only a not-yet-stored send result
# is worth a retry, everything else is answered 200 so it is not retried for days.
_STATUS = {ReportOutcome.NOT_READY: 503, ReportOutcome.INVALID: 400}


def _text(status: int, body: str) -> Response[str]:
    return Response(status_code=status, content_type=content_types.TEXT_PLAIN, body=body)


@app.route(ROUTE, method=["GET", "POST"])
def clickatell_callback() -> Response[str]:
    event = app.current_event
    fields = dict(event.query_string_parameters or {})
    if event.body:
        fields.update(parse_qsl(event.decoded_body, keep_blank_values=True))
    token = fields.pop("token", "")
    if not hmac.compare_digest(token.encode(), runtime.callback_token().encode()):
        logger.warning("callback with a bad token refused")
        return _text(403, "forbidden")
    report = parse_report(fields)
    outcome = apply_report(runtime.store(), report) if report else ReportOutcome.INVALID
    logger.info("delivery report", extra={"outcome": outcome.value, "status": fields.get("status")})
    metrics.add_metric(name=f"Callback{outcome.value.title().replace('_', '')}", unit="Count", value=1)
    return _text(_STATUS.get(outcome, 200), outcome.value)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
