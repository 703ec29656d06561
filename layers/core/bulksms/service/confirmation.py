"""The optional reply to a STOP (template parameter OptOutConfirmationText; empty: none is sent).

One message to the handset that opted out, from the number it wrote to, through the deployment's
provider. It is the one message a suppressed number gets: it does not go through a job, so the
suppression check does not apply, and a repeated callback (stored once) does not send it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger

from bulksms.domain.encoding import encode_text
from bulksms.domain.inbound import InboundMessage
from bulksms.domain.message import Message, sender_problem
from bulksms.domain.provider import Provider

logger = Logger(child=True)


@dataclass(frozen=True, slots=True)
class OptOutConfirmation:
    provider: Provider
    message: Message  # the text, encoded once; the sender is set per reply

    @classmethod
    def of_text(cls, provider: Provider, text: str, max_parts: int) -> OptOutConfirmation:
        """Raises TextError (at cold start) when the configured text cannot be sent."""
        encoded = encode_text(text, max_parts=max_parts)
        return cls(provider, Message(encoding=encoded.encoding, payload=encoded.payload, parts=encoded.parts))

    def send(self, reply: InboundMessage) -> None:
        # From our two-way number when it is one a sender may be (mo=1 routes a reply-capable carrier),
        # else from the account's default sender.
        two_way = reply.to if reply.to and sender_problem(reply.to, True) is None else None
        message = replace(self.message, sender=two_way, mo=two_way is not None)
        # Its own reference (not a job id): a delivery report for it is answered unknown_message.
        verdict = self.provider.send(message, [reply.sender], client_message_id=uuid.uuid4().hex)
        (result,) = verdict.results or (None,)
        logger.info(
            "opt-out confirmation sent",
            extra={
                "mo_message_id": reply.mo_message_id,
                "status": result.status.value if result else None,
                "error_code": result.error_code if result else None,
                "outcome": verdict.reason,
            },
        )
