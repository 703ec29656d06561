"""What the callback routes read from a Lambda function URL's event."""

from __future__ import annotations

import base64

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent


def request_body(event: LambdaFunctionUrlEvent) -> bytes:
    """The body as the caller sent it (a function URL base64-encodes one that is not text); raises
    binascii.Error when the encoding is broken."""
    raw = event.body or ""
    return base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
