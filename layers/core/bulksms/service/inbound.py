"""Receive one MO (reply) message: apply an opt-out keyword, store it, hand it to the webhook."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from bulksms.domain.inbound import InboundMessage
from bulksms.domain.optout import Keyword, first_word, keyword
from bulksms.domain.ports import InboundStore
from bulksms.domain.schedule import now_iso
from bulksms.service.suppressions import SuppressionList

logger = Logger(child=True)

_VIEW_FIELDS = ("mo_message_id", "from", "to", "text", "charset", "udh", "sent_at", "received_at")


class InboundOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # Clickatell repeated a callback we had stored


class Action(StrEnum):
    SUPPRESSED = "suppressed"
    UNSUPPRESSED = "unsuppressed"
    NONE = "none"  # a keyword that changed nothing, or a sender that is not a valid number


@dataclass(frozen=True, slots=True)
class Inbound:
    store: InboundStore
    suppressions: SuppressionList
    retention_s: int
    webhook: Callable[[Mapping[str, Any]], None] | None = None
    confirm: Callable[[InboundMessage], None] | None = None  # the optional reply to a STOP

    def receive(self, message: InboundMessage) -> InboundOutcome:
        """The keyword is applied before the message is stored: a callback that failed in between is
        repeated by Clickatell and applies it again (both moves are idempotent). A repeat of a stored
        message changes nothing and is not sent to the webhook again, nor confirmed again."""
        found = keyword(message.text)
        action = self._apply(message, found) if found else None
        received_at = now_iso()
        item = {
            "mo_message_id": message.mo_message_id,
            "from": message.sender,
            "to": message.to,
            "text": message.text,
            "charset": message.charset,
            "udh": message.udh,
            "sent_at": message.sent_at,
            "received_at": received_at,
            "keyword": found.value if found else None,
            "action": action.value if action else None,
            "expires_at": int(time.time()) + self.retention_s,
        }
        sort_key = f"{message.sent_at or received_at}#{message.mo_message_id or uuid.uuid4().hex}"
        if not self.store.add(sort_key, item):
            logger.info("repeated MO callback", extra={"mo_message_id": message.mo_message_id})
            return InboundOutcome.DUPLICATE
        logger.info(
            "MO message stored",
            extra={
                "mo_message_id": message.mo_message_id,
                "keyword": item["keyword"],
                "action": item["action"],
            },
        )
        if self.webhook:
            self.webhook(inbound_view(item))
        if self.confirm and found is Keyword.STOP and message.sender_valid:
            # Last: if it raises, Clickatell's retry finds the reply stored (duplicate) and sends no second.
            self.confirm(message)
        return InboundOutcome.STORED

    def _apply(self, message: InboundMessage, found: Keyword) -> Action:
        if not message.sender_valid:
            return Action.NONE
        if found is Keyword.STOP:
            changed = self.suppressions.suppress_from_keyword(message.sender, first_word(message.text))
            return Action.SUPPRESSED if changed else Action.NONE
        changed = self.suppressions.lift_keyword(message.sender)
        return Action.UNSUPPRESSED if changed else Action.NONE

    def page(self, limit: int, token: str | None) -> dict[str, Any]:
        page = self.store.page(limit=limit, token=token)
        return {"items": [inbound_view(item) for item in page.items], "next_token": page.next_token}


def inbound_view(item: Mapping[str, Any]) -> dict[str, Any]:
    view = {name: item.get(name) for name in _VIEW_FIELDS}
    view["keyword"] = item.get("keyword")
    view["action"] = item.get("action")
    return view
