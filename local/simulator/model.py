"""The simulator's record of one accepted message."""

from __future__ import annotations

from typing import Any, NamedTuple

ACCEPTED_STATUS = "003"  # "Delivered to gateway": what querymsg says until a final status is sent


# How the simulator stores a message: a plain tuple of str/int, in Message's field order. The garbage
# collector stops tracking exact tuples of atoms (not NamedTuple instances), so the hundreds of thousands
# a benchmark leaves behind do not make every full collection slower. The status, which changes, is kept
# separately.
MessageRow = tuple[str, str, str, str, str, int, int]


class Message(NamedTuple):
    """A stored MessageRow with names, built when one is read."""

    api_msg_id: str
    cli_msg_id: str
    to: str
    sender: str
    text_key: str
    callback_level: int
    parts: int

    def as_dict(self, status: str = ACCEPTED_STATUS) -> dict[str, Any]:
        return {
            "api_msg_id": self.api_msg_id,
            "cli_msg_id": self.cli_msg_id,
            "to": self.to,
            "from": self.sender,
            "text_key": self.text_key,
            "callback_level": self.callback_level,
            "parts": self.parts,
            "status": status,
        }
