"""What the callback routes read from a Lambda function URL's event, and how they answer."""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent


def request_body(event: LambdaFunctionUrlEvent) -> bytes:
    """The body as the caller sent it (a function URL base64-encodes one that is not text); raises
    binascii.Error when the encoding is broken."""
    raw = event.body or ""
    return base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()


def text(status: int, body: str) -> Response[str]:
    """A plain-text answer: Clickatell reads only the status; the body is for people and logs."""
    return Response(status_code=status, content_type=content_types.TEXT_PLAIN, body=body)
