"""Clickatell MO (reply) callbacks (GET, POST form or JSON) on a Lambda function URL, checked by token."""

from __future__ import annotations

import base64
import hmac
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from bulksms import runtime
from bulksms.domain.inbound import callback_fields, form_fields, parse_inbound
from bulksms.service.inbound import InboundOutcome

logger = Logger()
metrics = Metrics()
app = LambdaFunctionUrlResolver()
ROUTE = "/v1/inbound/clickatell"


def _text(status: int, body: str) -> Response[str]:
    return Response(status_code=status, content_type=content_types.TEXT_PLAIN, body=body)


@app.route(ROUTE, method=["GET", "POST"])
def clickatell_inbound() -> Response[str]:
    event = app.current_event
    raw = event.get("body") or ""
    fields = callback_fields(
        event.raw_query_string, base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    )
    token = str((fields or dict(form_fields(event.raw_query_string, b""))).pop("token", ""))
    if not hmac.compare_digest(token.encode(), runtime.callback_token().encode()):
        logger.warning("inbound callback with a bad token refused")
        return _text(403, "forbidden")
    message = parse_inbound(fields) if fields is not None else None
    # Without a sender Clickatell's retry would be no better: 400, and it is not stored.
    outcome = runtime.inbound().receive(message) if message else InboundOutcome.INVALID
    metrics.add_metric(name=f"Inbound{outcome.value.title()}", unit="Count", value=1)
    return _text(400 if outcome is InboundOutcome.INVALID else 200, outcome.value)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
