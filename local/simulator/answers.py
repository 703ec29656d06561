"""The `sendmsg` answer records and their wire format.

Kept in one small module so the product's parser tests can render exactly what the simulator sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

AnswerStyle = Literal["lines", "one_line"]
ANSWER_STYLES: tuple[str, ...] = ("lines", "one_line")


class Record(NamedTuple):
    """One answer record: `ID: <id> [To: <n>]` or `ERR: <code>, <description> [To: <n>]`.

    A NamedTuple rather than a frozen dataclass: immutable either way, but building one is several
    times cheaper, and a 600-number answer builds 600 of them.
    """

    key: Literal["ID", "ERR"]
    value: str  # the 32-hex message id for ID, the 3-digit code for ERR
    description: str = ""
    to: str | None = None

    @classmethod
    def accepted(cls, api_msg_id: str, to: str | None = None) -> Record:
        return cls("ID", api_msg_id, "", to)

    @classmethod
    def error(cls, code: str, description: str, to: str | None = None) -> Record:
        return cls("ERR", code, description, to)

    @classmethod
    def from_tuple(cls, record: tuple[str, ...]) -> Record:
        """`("ID", id, to_or_None)` or `("ERR", code, desc, to_or_None)`."""
        if record[0] == "ID" and len(record) == 3:
            return cls.accepted(record[1], record[2])
        if record[0] == "ERR" and len(record) == 4:
            return cls.error(record[1], record[2], record[3])
        raise ValueError(f"not an answer record: {record!r}")

    @property
    def ok(self) -> bool:
        return self.key == "ID"

    def without_to(self) -> Record:
        return self._replace(to=None)

    def render(self) -> str:
        head = f"ID: {self.value}" if self.key == "ID" else f"ERR: {self.value}, {self.description}"
        return head if self.to is None else f"{head} To: {self.to}"


def format_answer(
    records: Iterable[Record | tuple[str, ...]],
    style: AnswerStyle = "lines",
    trailing_newline: bool = True,
) -> str:
    """Render records one per line (`lines`) or run together with single spaces (`one_line`)."""
    if style not in ANSWER_STYLES:
        raise ValueError(f"unknown answer style {style!r}")
    rendered = [(r if isinstance(r, Record) else Record.from_tuple(r)).render() for r in records]
    body = ("\n" if style == "lines" else " ").join(rendered)
    return body + "\n" if trailing_newline and body else body
