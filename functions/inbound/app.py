"""Clickatell MO (reply) callbacks (GET, POST form, XML, legacy or One API JSON) on a Lambda function
URL, checked by token."""

from __future__ import annotations

import binascii
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.domain.inbound import read_callback
from bulksms.function_url import request_body, text

logger = Logger()
metrics = Metrics()
app = LambdaFunctionUrlResolver()
ROUTE = "/v1/inbound/clickatell"


@app.route(ROUTE, method=["GET", "POST"])
def clickatell_inbound() -> Response[str]:
    event = app.current_event
    try:
        body: bytes | None = request_body(event)
    except binascii.Error:
        body = None
    callback = read_callback(event.raw_query_string, body or b"")
    if not runtime.is_callback_token(callback.token):
        logger.warning("inbound callback with a bad token refused")
        return text(403, "forbidden")
    if body is None:
        return text(400, "invalid: body is not base64")
    if callback.error:
        # Clickatell's retry would be no better: 400, and nothing is stored.
        metrics.add_metric(name="InboundInvalid", unit="Count", value=1)
        logger.info("inbound callback refused", extra={"reason": callback.error})
        return text(400, f"invalid: {callback.error}")
    outcomes = [runtime.inbound().receive(message) for message in callback.messages]
    for outcome in outcomes:
        metrics.add_metric(name=f"Inbound{outcome.value.title()}", unit="Count", value=1)
    # One word per reply, in order; "ignored" when the callback held no SMS reply (e.g. WhatsApp only).
    return text(200, ",".join(outcome.value for outcome in outcomes) or "ignored")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
