"""The one error shape of the public API: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

_MESSAGES = {
    "json_invalid": "the body is not valid JSON",
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response[str]:
    body = {"error": {"code": code, "message": message, "field": field}}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def validation_error_response(errors: Sequence[Any]) -> Response[str]:
    """Turn pydantic's first error into a 400 that names the field and says what is wrong."""
    first = dict(errors[0]) if errors else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "header", "path")]
    kind = str(first.get("type", "invalid"))
    # A union (list | str) reports each branch; name the field, not the branch.
    field = next((part for part in location if not part.startswith(("list[", "str", "int"))), None)
    if kind == "json_invalid":
        return error_response(400, "invalid_json", _MESSAGES[kind])
    if field is None and kind == "model_attributes_type":
        return error_response(400, "invalid_body", "the body must be a JSON object")
    message = _MESSAGES.get(kind) or str(first.get("msg", "is invalid"))
    return error_response(400, "invalid_field", f"{field}: {message}" if field else message, field)


def reject_oversized(event: dict[str, Any], limit: int) -> dict[str, Any] | None:
    """A 413 proxy answer for a body over `limit` bytes, checked before the body is parsed."""
    body = event.get("body") or ""
    if len(body) <= limit:
        return None
    message = f"the body is {len(body)} bytes; the limit is {limit}. Split the recipients into several jobs"
    return {
        "statusCode": 413,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": {"code": "body_too_large", "message": message, "field": None}}),
        "isBase64Encoded": False,
    }
