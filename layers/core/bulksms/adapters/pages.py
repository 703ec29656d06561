"""Opaque page tokens for listings outside a job: a token only works for the listing it came from."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from bulksms.adapters.store import InvalidPageToken


def encode_token(listing: str, position: dict[str, Any]) -> str:
    data = {"listing": listing, **position}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, listing: str, *fields: str) -> dict[str, Any]:
    """The position a token holds; InvalidPageToken (400) for anything this API did not hand out."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.get("listing") != listing:
            raise ValueError("another listing")
        position = {name: data[name] for name in fields}
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidPageToken("next_token is not a token this listing returned") from error
    return position
