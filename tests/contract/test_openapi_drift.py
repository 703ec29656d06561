"""openapi.json is what the code generates now, and a valid OpenAPI 3.1 document that tells the truth
about the error answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bulksms.domain.message import SENDER_ID_PATTERN, Encoding
from bulksms.domain.status import RecipientStatus
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from local.template import load_template
from scripts.generate_openapi import OUTPUT, ROOT, build_document, render

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


def _operations(
    document: dict[str, Any], prefix: str = "/v1/messages"
) -> list[tuple[str, str, dict[str, Any]]]:
    """The operations under `prefix` (by default the API-key routes)."""
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        if path.startswith(prefix)
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
        # The handler checks any body's size and type before routing; API Gateway throttles.
        assert {"413", "415", "429"} <= set(responses), f"{method} {path}"
    post = committed["paths"]["/v1/messages"]["post"]["responses"]
    assert {"202", "409", "413", "415", "503"} <= set(post)
    assert post["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/SendAccepted")
    assert post["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/DryRunResult")
    listing = committed["paths"]["/v1/messages"]["get"]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"]["$ref"].endswith("/JobsPage")
    assert "409" in committed["paths"]["/v1/messages/{job_id}"]["delete"]["responses"]
    rejected = committed["paths"]["/v1/messages/{job_id}/rejected"]["get"]["responses"]["200"]
    assert rejected["content"]["application/json"]["schema"]["$ref"].endswith("/RejectedPage")


def test_api_key_is_required_on_every_message_route(committed: dict[str, Any]) -> None:
    scheme = committed["components"]["securitySchemes"]["apiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-api-key"}
    message_routes = [op for _, path, op in _operations(committed) if path.startswith("/v1/messages")]
    assert len(message_routes) == 6  # POST, GET /v1/messages; GET, DELETE a job; recipients; rejected
    for operation in message_routes:
        assert operation["security"] == [{"apiKey": []}]


def test_document_identifies_the_api(committed: dict[str, Any]) -> None:
    info = committed["info"]
    assert info["title"] == "bulksms"
    assert info["version"] and info["description"]


def test_statuses_counts_and_encodings_are_constrained(committed: dict[str, Any]) -> None:
    schemas = committed["components"]["schemas"]
    assert set(schemas["JobStatus"]["enum"]) >= {"queued", "sending", "completed", "cancelled", "failed"}
    assert schemas["RecipientStatus"]["enum"] == [s.value for s in RecipientStatus]
    assert schemas["Encoding"]["enum"] == [e.value for e in Encoding]
    for name, field in schemas["Counts"]["properties"].items():
        assert field["type"] == "integer" and field["minimum"] == 0, name
    accepted = schemas["SendAccepted"]["properties"]
    for name in ("duplicates_removed", "normalised", "rejected_count"):
        assert accepted[name]["minimum"] == 0, name
    assert accepted["accepted"]["minimum"] == 1 and accepted["parts_per_message"]["minimum"] == 1
    assert schemas["JobView"]["properties"]["status"] == {"$ref": "#/components/schemas/JobStatus"}
    assert schemas["SendRequest"]["properties"]["from"]["pattern"] == SENDER_ID_PATTERN


def test_callback_route_is_documented_as_a_token_route_without_api_key(committed: dict[str, Any]) -> None:
    template = load_template(ROOT / "template.yaml")
    url_paths = [f.local_path for f in template.functions() if f.function_url]
    assert url_paths and all(path in committed["paths"] for path in url_paths)
    for method, path, operation in _operations(committed, prefix="/v1/callbacks"):
        assert operation["security"] == [], f"{method} {path}"
        (token,) = operation["parameters"]
        assert (token["name"], token["in"], token["required"]) == ("token", "query", True)
        assert {"200", "403", "503"} <= set(operation["responses"]), f"{method} {path}"
        for response in operation["responses"].values():
            assert set(response["content"]) == {"text/plain"}
        assert operation["servers"][0]["url"].endswith(".lambda-url.{region}.on.aws"), f"{method} {path}"
    assert set(committed["paths"]["/v1/callbacks/clickatell"]) == {"get", "post"}


def test_each_function_url_route_names_the_output_that_gives_its_url(committed: dict[str, Any]) -> None:
    template = load_template(ROOT / "template.yaml")
    outputs = {
        output["Value"]["Fn::GetAtt"][0]: name
        for name, output in template.document["Outputs"].items()
        if isinstance(output["Value"], dict) and "Fn::GetAtt" in output["Value"]
    }
    for function in (f for f in template.functions() if f.function_url):
        output = outputs[f"{function.logical_id}Url"]
        for method, operation in committed["paths"][function.local_path].items():
            (server,) = operation["servers"]
            assert server["description"].startswith(f"The stack's {output} output"), (method, output)
