"""openapi.json is what the code generates now, and a valid OpenAPI 3.1 document that tells the truth
about the error answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from scripts.generate_openapi import OUTPUT, build_document, render

REGENERATE = "openapi.json is out of date: run `python scripts/generate_openapi.py` and commit the result"


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return build_document()


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert OUTPUT.exists(), REGENERATE
    document: dict[str, Any] = json.loads(OUTPUT.read_text(encoding="utf-8"))
    return document


def test_committed_document_matches_the_code(generated: dict[str, Any], committed: dict[str, Any]) -> None:
    assert committed == generated, REGENERATE


def test_committed_document_is_rendered_by_the_script(generated: dict[str, Any]) -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render(generated), REGENERATE


def test_document_is_valid_openapi(committed: dict[str, Any]) -> None:
    try:
        validate(committed)
    except OpenAPIValidationError as error:  # pragma: no cover - the message is the point
        pytest.fail(f"openapi.json is not a valid OpenAPI document: {error}")


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_errors_are_documented_as_the_api_answers_them(committed: dict[str, Any]) -> None:
    schemas = committed["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "field"}
    for method, path, operation in _operations(committed):
        responses = operation["responses"]
        assert "422" not in responses, f"{method} {path}"
        for status in ("400", "403"):
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }, f"{method} {path} {status}"
        if "{job_id}" in path:
            assert "404" in responses, f"{method} {path}"
    post = committed["paths"]["/v1/messages"]["post"]["responses"]
    assert {"202", "409", "413"} <= set(post)
    assert post["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/SendAccepted")
    assert "409" in committed["paths"]["/v1/messages/{job_id}"]["delete"]["responses"]


def test_api_key_is_required_on_every_message_route(committed: dict[str, Any]) -> None:
    scheme = committed["components"]["securitySchemes"]["apiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-api-key"}
    message_routes = [op for _, path, op in _operations(committed) if path.startswith("/v1/messages")]
    assert len(message_routes) == 5
    for operation in message_routes:
        assert operation["security"] == [{"apiKey": []}]


def test_document_identifies_the_api(committed: dict[str, Any]) -> None:
    info = committed["info"]
    assert info["title"] == "bulksms"
    assert info["version"] and info["description"]
