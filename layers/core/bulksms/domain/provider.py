"""What the core needs from a Clickatell API: one small protocol both adapters implement.

The deployment's API is chosen once (settings, `runtime.provider()`); the services only ever see this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bulksms.domain.attempts import Verdict
from bulksms.domain.message import Message


class Provider(Protocol):
    @property
    def max_numbers_per_request(self) -> int:
        """The API's per-request limit: a chunk never holds more numbers than this."""
        ...

    @property
    def opted_out_error(self) -> str:
        """The per-number error code meaning the handset opted out (its numbers go onto the suppression
        list, source `provider`): the legacy `ERR: 122`, the One API's error 26."""
        ...

    def refusal(self, message: Message) -> tuple[str, str] | None:
        """(field, reason) when the API cannot carry an option of the message; None when it can."""
        ...

    def send(self, message: Message, numbers: Sequence[str], client_message_id: str) -> Verdict:
        """Send one chunk; retry only attempts that provably never reached Clickatell."""
        ...
