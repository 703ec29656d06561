"""The public API's OpenAPI document, from the resolvers' routes and models, told the way the API answers.

Powertools documents a 422 `HTTPValidationError` for every route; this API answers 400 instead, and
every error (its own, and API Gateway's through the template's GatewayResponses) in one shape,
`ErrorBody`. This module swaps those in and adds the `x-api-key` scheme the REST API enforces.

The routes Clickatell calls (delivery callbacks, and any other function-URL route) are served by a
Lambda function URL, not the REST API: they take no API key but a `token` in the query, answer plain
text, and are documented from their own resolver with what they answer.
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
    "every number ends with exactly one recorded outcome. Numbers on the deployment's suppression list "
    "(added through the API, by STOP replies or by Clickatell's opt-outs) are never sent to; replies are "
    "listed under /v1/inbound. Every error is answered as "
    '`{"error": {"code", "message", "field"}}` with a 4xx status.'
)
SECURITY_SCHEME = "apiKey"
API_KEY_HEADER = "x-api-key"
SECURED_PREFIXES = ("/v1/messages", "/v1/suppressions", "/v1/inbound")
SCHEMA_REF = "#/components/schemas/{model}"
# What powertools adds for its own validation answers, which this API never gives.
_POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")

ERRORS: dict[int, str] = {
    400: "A path or query parameter is invalid (invalid_field); `field` names it.",
    403: (
        "No or a wrong x-api-key header (invalid_api_key), or a method this path does not have "
        "(MISSING_AUTHENTICATION_TOKEN); answered by API Gateway. Nothing was written or queued."
    ),
    404: "No such job, or the number is not on the suppression list (not_found).",
    413: "The body is larger than the API accepts (body_too_large); split the recipients into several jobs.",
    415: "A body sent with a Content-Type other than application/json (unsupported_media_type).",
    429: "Over the usage plan's rate or daily quota (answered by API Gateway).",
}
# Answers particular to one operation: (method, path) -> {status: description}.
SPECIFIC: dict[tuple[str, str], dict[int, str]] = {
    ("post", "/v1/messages"): {
        400: (
            "The request is invalid (invalid_json, invalid_body, invalid_field, invalid_request, "
            "no_valid_recipient, too_many_recipients, unsupported_option: the deployment's Clickatell API "
            "lacks the option; a status_callback_url that is not https to a public address); `field` "
            "names the culprit. Nothing was written or queued."
        ),
        409: "The Idempotency-Key was used with a different body, or its first request is still running.",
        503: (
            "The job was stored but could not be queued (unavailable): it is stopped and never sent; "
            "the message names it. Send again, with a new Idempotency-Key."
        ),
    },
    ("get", "/v1/messages"): {
        400: "A query parameter is invalid (invalid_field, invalid_page_token); `field` names it.",
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
    ("get", "/v1/suppressions"): {
        400: "A query parameter is invalid (invalid_field, invalid_page_token); `field` names it.",
    },
    ("get", "/v1/inbound"): {
        400: "A query parameter is invalid (invalid_field, invalid_page_token); `field` names it.",
    },
}


def error_statuses(method: str, path: str) -> list[int]:
    """The 4xx statuses an operation can answer, from the handler, its rules and API Gateway.

    Any request may carry a body, and the handler checks its size and type before routing (413, 415).
    """
    statuses = [400, 403, 413, 415, 429]
    if "{job_id}" in path or ("{number}" in path and method != "put"):
        statuses.append(404)
    statuses.extend(status for status in SPECIFIC.get((method, path), {}) if status not in statuses)
    return sorted(statuses)


# Routes on the Lambda function URLs: what each answers, by path, and the stack output that gives its
# function's URL. A new function-URL route must be described here before the document can be generated.
FUNCTION_URL_ROUTES: dict[str, dict[str, Any]] = {
    "/v1/callbacks/clickatell": {
        "summary": "Clickatell delivery callback",
        "output": "CallbackUrl",
        "description": (
            "Clickatell's delivery report for one message (legacy fields api_id, apiMsgId, cliMsgId, "
            "timestamp, to, from, status, charge; names in any case), in the query "
            "(GET) or the body (POST: a form, XML as `data=<callback>...` or a bare document, or JSON, "
            "including the One API's flat status callback and its `event.messageStatusUpdate` list of "
            "up to 100 updates, each applied on its own and answered one line each as "
            "`<index>: <outcome>`, 503 if any is not_ready, else 200 if any was read, else 400). "
            "Not an API-key route: authenticated by the deployment's callback token. Idempotent; a "
            "report never moves a recipient backwards."
        ),
        "responses": {
            200: "applied, unchanged (repeated, stale or no change) or unknown_message (not ours, or "
            "the job has finished: Clickatell must not retry it)",
            400: "invalid: <reason>: a field is missing, malformed or too long; nothing was written",
            403: "forbidden: a missing or wrong token; nothing was written",
            503: "not_ready: the number's send result is not stored yet; Clickatell retries",
        },
    },
    "/v1/inbound/clickatell": {
        "summary": "Clickatell reply (MO) callback",
        "output": "InboundUrl",
        "description": (
            "A reply to a two-way number. Legacy fields api_id, moMsgId, from, to, timestamp, text, "
            "charset, udh (names in any case) in the query (GET) or the body (POST: a form, XML as "
            "`data=<callback>...` or a bare document, or a JSON object); hex UCS-2 text is decoded. "
            "Or the One API's JSON receive message callback (`event.moText[]`: messageId, from, to, "
            "timestamp in ms, content; SMS replies only), or the earlier platform's flat reply callback "
            "(messageId, fromNumber, toNumber, text). Not an API-key route: authenticated by the "
            "deployment's callback token. Stored and listed by GET /v1/inbound; a first word STOP, "
            "STOPALL, UNSUBSCRIBE, CANCEL, END or QUIT suppresses the sender, START or UNSTOP lifts it."
        ),
        "responses": {
            200: "stored, or duplicate (Clickatell repeated a callback: nothing applied twice); one word "
            "per reply, comma-separated, for a One API callback of several; ignored when it held no SMS "
            "reply",
            400: "invalid: <reason>: no sender, XML that is not a <callback> document, a JSON body that "
            "is not an object, more than 100 replies; nothing was written",
            403: "forbidden: a missing or wrong token; nothing was written",
        },
    },
}


def _function_url_server(output: str) -> dict[str, Any]:
    return {
        "url": "https://{url_id}.lambda-url.{region}.on.aws",
        "description": f"The stack's {output} output (a Lambda function URL); locally the API's address.",
        "variables": {"url_id": {"default": "url-id"}, "region": {"default": "us-east-1"}},
    }


_TOKEN = {
    "name": "token",
    "in": "query",
    "required": True,
    "description": "The deployment's callback token (CallbackTokenSecret)",
    "schema": {"type": "string", "minLength": 1},
}
_FIELDS = {"type": "object", "additionalProperties": {"type": "string"}}
_REPORT_BODY = {
    "content": {
        "application/x-www-form-urlencoded": {"schema": _FIELDS},
        "application/json": {"schema": {"type": "object"}},
        "text/xml": {"schema": {"type": "string"}},
    }
}


def _error_response(description: str) -> dict[str, Any]:
    schema = {"$ref": SCHEMA_REF.format(model=ErrorBody.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template=SCHEMA_REF)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, ErrorBody.__name__: schema}


def _text_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def function_url_paths(app: ApiGatewayResolver) -> dict[str, Any]:
    """The paths of a function-URL resolver, documented as the non-API-key routes they are."""
    generated: dict[str, Any] = json.loads(app.get_openapi_json_schema(title=TITLE, version=API_VERSION))
    paths: dict[str, Any] = {}
    for path, operations in generated.get("paths", {}).items():
        described = FUNCTION_URL_ROUTES.get(path)
        if described is None:
            raise ValueError(f"function-URL route {path} is not described in FUNCTION_URL_ROUTES")
        paths[path] = {}
        for method, operation in operations.items():
            documented: dict[str, Any] = {
                "operationId": operation["operationId"],
                "servers": [_function_url_server(described["output"])],
                "summary": described["summary"],
                "description": described["description"],
                "security": [],
                "parameters": [_TOKEN],
                "responses": {str(k): _text_response(v) for k, v in described["responses"].items()},
            }
            if method == "post":
                documented["requestBody"] = _REPORT_BODY
            paths[path][method] = documented
    return paths


def openapi_document(app: ApiGatewayResolver, *function_url_apps: ApiGatewayResolver) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s routes and the function-URL routes, as a JSON-ready dict."""
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
            if path.startswith(SECURED_PREFIXES):
                operation["security"] = [{SECURITY_SCHEME: []}]
    for other in function_url_apps:
        document["paths"].update(function_url_paths(other))
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    schemas.update(_error_schemas())
    text = json.dumps(document)
    leftover = [name for name in _POWERTOOLS_ERRORS if f'"#/components/schemas/{name}"' in text]
    if leftover:
        raise ValueError(f"the document still refers to {leftover}")
    return document
