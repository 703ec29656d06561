"""The one error shape of the public API: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from bulksms.adapters.store import InvalidPageToken
from bulksms.service.errors import RequestError

_MESSAGES = {
    "json_invalid": "the body is not valid JSON",
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
}


NOT_AN_OBJECT = "the body must be a JSON object"


def load_json_body(text: str) -> Any:
    """json.loads for request bodies, where anything but an object is invalid (400), never a crash:
    too deep, a number too long, or an array (which validation would quietly cut to its first item)."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:
        raise json.JSONDecodeError(f"unreadable JSON ({type(error).__name__})", text, 0) from None
    if not isinstance(body, dict):
        raise json.JSONDecodeError(NOT_AN_OBJECT, text, 0)
    return body


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
        if str(first.get("ctx", {}).get("error", "")) == NOT_AN_OBJECT:
            return error_response(400, "invalid_body", NOT_AN_OBJECT)
        return error_response(400, "invalid_json", _MESSAGES[kind])
    if kind == "missing" and not location:
        return error_response(400, "invalid_body", "the body is required: a JSON object with to and text")
    if field is None and kind == "model_attributes_type":
        return error_response(400, "invalid_body", NOT_AN_OBJECT)
    message = _MESSAGES.get(kind) or str(first.get("msg", "is invalid"))
    return error_response(400, "invalid_field", f"{field}: {message}" if field else message, field)


def reject_unusable_body(event: dict[str, Any], limit: int) -> dict[str, Any] | None:
    """A proxy answer for a body we will not parse: over `limit` bytes (413), not JSON (415), or not
    UTF-8 (400). Checked before validation, which would read a form body as fields."""
    body = event.get("body") or ""
    size = body_bytes(body, bool(event.get("isBase64Encoded")))
    if size > limit:
        message = f"the body is {size} bytes; the limit is {limit}. Split the recipients into several jobs"
        return _proxy_error(413, "body_too_large", message)
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type not in ("", "application/json"):
        return _proxy_error(
            415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"
        )
    if event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _proxy_error(400, "invalid_json", "the body must be JSON text in UTF-8")
    return None


def body_bytes(body: str, is_base64: bool) -> int:
    """The body's size on the wire, as API Gateway and Lambda count it: UTF-8 bytes, not characters."""
    if is_base64:
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(body.encode("utf-8", "surrogatepass"))


def _proxy_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": {"code": code, "message": message, "field": None}}),
        "isBase64Encoded": False,
    }


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Every error the API can raise, answered in the one error shape."""
    # Registered by call, not as decorators: powertools leaves exception_handler's decorator untyped.
    handlers: dict[type[Exception], Callable[[Any], Response[str]]] = {
        RequestValidationError: _invalid_request,
        RequestError: _request_error,
        InvalidPageToken: _invalid_page_token,
    }
    for error, handler in handlers.items():
        app.exception_handler(error)(handler)

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return error_response(404, "not_found", "no such route; see the README for the API")


def _invalid_request(error: RequestValidationError) -> Response[str]:
    return validation_error_response(error.errors())


def _request_error(error: RequestError) -> Response[str]:
    return error_response(error.status, error.code, error.message, error.field)


def _invalid_page_token(error: InvalidPageToken) -> Response[str]:
    return error_response(400, "invalid_page_token", str(error), "next_token")
