"""Every answer the end-to-end suite gets from the API, checked against openapi.json: the status is
documented for the operation (or, off the document's paths, is API Gateway's own answer), the
content type is documented, and the body validates against the documented schema."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from scripts.generate_openapi import OUTPUT as DOCUMENT

_ROOT = "urn:bulksms:openapi"


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return document


@cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_ROOT, resource)
    return registry


@cache
def _paths() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for path in _document()["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        out.append((re.compile(regex), path))
    return out


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def check_answer(method: str, url_path: str, status: int, content_type: str, body: bytes) -> None:
    """Raise AssertionError if this answer is not what openapi.json says the operation answers."""
    path = url_path.split("?", 1)[0]
    template = next((name for regex, name in _paths() if regex.fullmatch(path)), None)
    operation = _document()["paths"].get(template, {}).get(method.lower()) if template else None
    seen = f"{method} {url_path} -> {status} {content_type}: {body[:300]!r}"
    if operation is None:
        # Not an operation of the document: only API Gateway's own answer for a route it lacks.
        assert status == 403, f"an answer for a route openapi.json does not have: {seen}"
        instance = json.loads(body)
        OAS31Validator({"$ref": f"{_ROOT}#/components/schemas/ErrorBody"}, registry=_registry()).validate(
            instance
        )
        return
    response = operation["responses"].get(str(status))
    assert response is not None, f"status {status} is not documented for {method} {template}: {seen}"
    media = content_type.split(";", 1)[0].strip().lower()
    content = response.get("content", {})
    assert media in content, f"content type {media} is not documented ({sorted(content)}): {seen}"
    schema_ref = _pointer(
        "paths", template, method.lower(), "responses", str(status), "content", media, "schema"
    )
    instance: Any = json.loads(body) if media == "application/json" else body.decode("utf-8")
    errors = sorted(
        OAS31Validator({"$ref": f"{_ROOT}#/{schema_ref}"}, registry=_registry()).iter_errors(instance),
        key=str,
    )
    assert not errors, f"the body does not match openapi.json: {errors[0].message}\n{seen}"
