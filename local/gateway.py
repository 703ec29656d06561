"""What API Gateway and function URLs do in front of the handlers: route, check the API key,
build the event, invoke, and turn the proxy answer back into an HTTP response."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.context import LocalContext
from local.events import function_url_event, rest_api_event
from local.functions import invoke
from local.template import FunctionDefinition, LocalTemplate

log = logging.getLogger("local.gateway")
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # the template's path, e.g. /v1/messages/{job_id}
    pattern: re.Pattern[str]
    function: FunctionDefinition
    function_url: bool  # a function URL (payload 2.0) rather than the REST API (proxy 1.0)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def _pattern(resource: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", resource)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex)


def routes(template: LocalTemplate) -> list[Route]:
    found: list[Route] = []
    for function in template.functions():
        for api_route in function.api_routes:
            found.append(Route(api_route.method, api_route.path, _pattern(api_route.path), function, False))
        if function.function_url and function.local_path:
            for method in function.local_methods:
                found.append(
                    Route(method, function.local_path, _pattern(function.local_path), function, True)
                )
    return found


class Gateway:
    def __init__(self, template: LocalTemplate, api_key: str) -> None:
        self._routes = routes(template)
        self._api_key = api_key
        self._invalid_key = _gateway_response(template, "INVALID_API_KEY")
        self._no_such_route = _gateway_response(
            template, "MISSING_AUTHENTICATION_TOKEN", status=403, message="Missing Authentication Token"
        )

    def handle(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> HttpAnswer:
        candidates = [(route, params) for route in self._routes if (params := route.match(path)) is not None]
        # A function URL hands every method to its function; the REST API answers a method or path it
        # does not have with its MISSING_AUTHENTICATION_TOKEN response, before any key check.
        chosen = next(((r, p) for r, p in candidates if r.method == method or r.function_url), None)
        if chosen is None:
            return self._no_such_route
        route, params = chosen
        if route.function_url:
            event = function_url_event(method, path, query=query, headers=headers, body=body)
            return self._invoke(route.function, event)
        sent_key = next((v for k, v in headers.items() if k.lower() == API_KEY_HEADER), "")
        if not hmac.compare_digest(sent_key.encode(), self._api_key.encode()):
            return self._invalid_key
        event = rest_api_event(
            method,
            route.resource,
            path,
            path_parameters=params,
            query=query,
            headers=headers,
            body=body,
            api_key=sent_key,
        )
        return self._invoke(route.function, event)

    def _invoke(self, function: FunctionDefinition, event: dict[str, Any]) -> HttpAnswer:
        context = LocalContext(function.logical_id, function.memory_mb, function.timeout_s)
        try:
            answer = invoke(function, event, context)
        except Exception:  # what API Gateway answers when the function itself fails
            log.exception("%s raised", function.logical_id)
            return _json(502, {"message": "Internal server error"})
        return _proxy_answer(answer)


def _gateway_response(
    template: LocalTemplate, response_type: str, *, status: int | None = None, message: str = ""
) -> HttpAnswer:
    """API Gateway's own answer of this type, as the template's GatewayResponses define it: its own
    entry, else DEFAULT_4XX with API Gateway's `status` and `message` for the type."""
    (api,) = template.resources_of_type("AWS::Serverless::Api").values()
    responses = api["Properties"]["GatewayResponses"]
    response = responses.get(response_type) or responses["DEFAULT_4XX"]
    body = (
        response["ResponseTemplates"]["application/json"]
        .replace("$context.error.responseType", response_type)
        .replace("$context.error.messageString", json.dumps(message))
    )
    return HttpAnswer(
        int(response.get("StatusCode", status)), {"Content-Type": "application/json"}, body.encode()
    )


def _json(status: int, body: Any) -> HttpAnswer:
    return HttpAnswer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _proxy_answer(answer: Mapping[str, Any]) -> HttpAnswer:
    headers = {k: str(v) for k, v in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    raw = answer.get("body") or ""
    body = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode()
    return HttpAnswer(int(answer.get("statusCode", 200)), headers, body)
