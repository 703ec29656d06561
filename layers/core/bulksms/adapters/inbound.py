"""Inbound (MO) messages in the table, newest first, kept for the table's retention (TTL).

  pk = INBOUND   sk = <sent_at>#<moMsgId>

Clickatell's own timestamp and message id make the key, so a callback it repeats lands on the same
item and is recognised (and not applied twice). One partition: replies arrive at a small fraction of
its 1,000 writes per second.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bulksms.adapters import aws
from bulksms.adapters.pages import decode_token, encode_token
from bulksms.adapters.store import InvalidPageToken
from bulksms.domain.ports import Page

PK = "INBOUND"
_LISTING = "inbound"


class InboundTable:
    """The `InboundStore` (domain/ports.py) in the table."""

    def __init__(self, table_name: str, resource: Any = None) -> None:
        self._table = aws.LazyTable(table_name, resource)

    @property
    def table(self) -> Any:
        return self._table()

    def add(self, sort_key: str, item: dict[str, Any]) -> bool:
        """Store one message; False when this key is already stored (a repeated callback)."""
        try:
            self.table.put_item(
                Item={**item, "pk": PK, "sk": sort_key}, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def page(self, *, limit: int, token: str | None) -> Page[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": PK},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if token:
            after = decode_token(token, _LISTING, "after")["after"]
            if not isinstance(after, str):
                raise InvalidPageToken("next_token is not a token this listing returned")
            kwargs["ExclusiveStartKey"] = {"pk": PK, "sk": after}
        answer = self.table.query(**kwargs)
        last = answer.get("LastEvaluatedKey")
        return Page(answer["Items"], encode_token(_LISTING, {"after": last["sk"]}) if last else None)
