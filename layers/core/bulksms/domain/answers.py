"""Parse Clickatell `sendmsg` answers.

Records are `ID: <id> [To: <n>]` or `ERR: <code>, <description> [To: <n>]`, one per line, though some
documentation shows them run together on one line; both are read. An ID is Clickatell's 32-hex
`apimsgid`; anything else, an ID of another shape included, is not a record and is kept as `unparsed`
so the caller can treat the answer as ambiguous instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A description never holds a `To:` token, so `To: <n> junk` cannot be swallowed into one.
_RECORD = re.compile(
    r"(?:ID:[ \t]*(?P<id>[0-9A-Fa-f]{32})"
    r"|ERR:[ \t]*(?P<code>\d+)(?:[ \t]*,(?P<desc>(?:(?![ \t]To:)[^\r\n])*?))?)"
    r"(?:[ \t]+To:[ \t]*(?P<to>\d+))?"
    r"(?=[ \t]+(?:ID|ERR):|[ \t]*(?:\r?\n|$))"
)
_NEXT_RECORD = re.compile(r"(?<![^\s])(?:ID|ERR):")


@dataclass(frozen=True, slots=True)
class Accepted:
    api_message_id: str
    to: str | None


@dataclass(frozen=True, slots=True)
class Rejected:
    code: str
    description: str
    to: str | None


Record = Accepted | Rejected


@dataclass(frozen=True, slots=True)
class Answer:
    records: tuple[Record, ...]
    unparsed: tuple[str, ...]

    @property
    def has_records(self) -> bool:
        return bool(self.records)


def parse_answer(body: str) -> Answer:
    records: list[Record] = []
    unparsed: list[str] = []
    pos, end = 0, len(body)
    while pos < end:
        while pos < end and body[pos].isspace():
            pos += 1
        if pos >= end:
            break
        match = _RECORD.match(body, pos)
        if match:
            if match["id"] is not None:
                records.append(Accepted(match["id"], match["to"]))
            else:
                records.append(Rejected(match["code"].zfill(3), (match["desc"] or "").strip(), match["to"]))
            pos = match.end()
            continue
        nxt = _NEXT_RECORD.search(body, pos + 1)
        stop = nxt.start() if nxt else end
        unparsed.append(body[pos:stop].strip())
        pos = stop
    return Answer(tuple(records), tuple(unparsed))
