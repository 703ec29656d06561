"""The public API's OpenAPI document, from the resolver's routes and models, told the way the API answers.

Powertools documents a 422 `HTTPValidationError` for every route; this API answers 400 instead, and
every error (its own, and API Gateway's through the template's GatewayResponses) in one shape,
`ErrorBody`. This module swaps those in and adds the `x-api-key` scheme the REST API enforces.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from bulksms.models import ErrorBody

TITLE = "bulksms"
API_VERSION = "1.0.0"
DESCRIPTION = (
    "One HTTPS request sends one message to up to 100,000 numbers through the Clickatell HTTP/S API; "
    "every number ends with exactly one recorded outcome. Every error is answered as "
    '`{"error": {"code", "message", "field"}}` with a 4xx status.'
)
SECURITY_SCHEME = "apiKey"
API_KEY_HEADER = "x-api-key"
SECURED_PREFIX = "/v1/messages"
SCHEMA_REF = "#/components/schemas/{model}"
# What powertools adds for its own validation answers, which this API never gives.
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")

ERRORS: dict[int, str] = {
    400: "A path or query parameter is invalid (invalid_field); `field` names it.",
    403: "No or a wrong x-api-key header (answered by API Gateway). Nothing was written or queued.",
    404: "No such job.",
    413: "The body is larger than the API accepts; split the recipients into several jobs.",
    429: "Over the usage plan's rate or daily quota (answered by API Gateway).",
}
# Answers particular to one operation: (method, path) -> {status: description}.
SPECIFIC: dict[tuple[str, str], dict[int, str]] = {
    ("post", "/v1/messages"): {
        400: (
            "The request is invalid (invalid_json, invalid_body, invalid_field, invalid_request, "
            "no_valid_recipient, too_many_recipients; a status_callback_url that is not https to a "
            "public address); `field` names the culprit. Nothing was written or queued."
        ),
        409: "The Idempotency-Key was used with a different body, or its first request is still running.",
        503: (
            "The job was stored but could not be queued (unavailable): it is stopped and never sent; "
            "the message names it. Send again, with a new Idempotency-Key."
        ),
    },
    ("get", "/v1/messages/{job_id}/recipients"): {
        400: "A path or query parameter is invalid (invalid_field, invalid_page_token); `field` names it.",
    },
    ("get", "/v1/messages/{job_id}/rejected"): {
        400: "A path or query parameter is invalid (invalid_field, invalid_page_token); `field` names it.",
    },
    ("delete", "/v1/messages/{job_id}"): {
        409: "The job is already finished (job_finished) or stopping after an error (job_stopping).",
    },
}


def error_statuses(method: str, path: str) -> list[int]:
    """The error statuses an operation can answer, from the handler, its rules and API Gateway."""
    statuses = [400, 403, 429]
    if "{job_id}" in path:
        statuses.append(404)
    if method == "post":
        statuses.append(413)
    statuses.extend(status for status in SPECIFIC.get((method, path), {}) if status not in statuses)
    return sorted(statuses)


def _error_response(description: str) -> dict[str, Any]:
    schema = {"$ref": SCHEMA_REF.format(model=ErrorBody.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template=SCHEMA_REF)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, ErrorBody.__name__: schema}


def openapi_document(app: ApiGatewayResolver) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s routes, as a JSON-ready dict."""
    generated = app.get_openapi_json_schema(
        title=TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        security_schemes={
            SECURITY_SCHEME: APIKey.model_validate(
                {
                    "in": APIKeyIn.header,
                    "name": API_KEY_HEADER,
                    "description": "The API Gateway API key of the deployment's usage plan",
                }
            )
        },
    )
    document: dict[str, Any] = json.loads(generated)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in error_statuses(method, path):
                description = SPECIFIC.get((method, path), {}).get(status, ERRORS.get(status, ""))
                responses[str(status)] = _error_response(description)
            if path.startswith(SECURED_PREFIX):
                operation["security"] = [{SECURITY_SCHEME: []}]
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    schemas.update(_error_schemas())
    text = json.dumps(document)
    leftover = [name for name in _POWERTOOLS_ERRORS if f'"#/components/schemas/{name}"' in text]
    if leftover:
        raise ValueError(f"the document still refers to {leftover}")
    return document
