"""Opt-out keywords in a reply: the first word decides whether the sender stops or starts again."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"


class SuppressionSource(StrEnum):
    """Who put a number on the suppression list; only a keyword entry is lifted by START."""

    API = "api"
    KEYWORD = "keyword"
    PROVIDER = "provider"


def first_word(text: str) -> str:
    """The first word with letters or digits, its surrounding punctuation removed, upper case.

    NFKC first, so full-width letters read as the plain ones a handset may have meant.
    """
    for token in unicodedata.normalize("NFKC", text).split():
        start, end = 0, len(token)
        while start < end and not token[start].isalnum():
            start += 1
        while end > start and not token[end - 1].isalnum():
            end -= 1
        if start < end:
            return token[start:end].upper()
    return ""


def keyword(text: str) -> Keyword | None:
    """STOP for an opt-out word, START for an opt-in word, None for anything else."""
    word = first_word(text)
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    return None


# Clickatell's per-number `ERR: 122, Destination mobile opted out`: the handset asked its network to stop.
OPTED_OUT_ERROR = "122"
