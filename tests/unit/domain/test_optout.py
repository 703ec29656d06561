from __future__ import annotations

import pytest
from bulksms.domain.optout import Keyword, first_word, keyword


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "Stop.", " STOP!!", "'stop'", "*STOP*", "stop please", "STOPALL", "Unsubscribe me",
     "cancel", "END", "quit.", "\u00abQuit\u00bb", "\uff33\uff34\uff2f\uff30", "-- stop", "\nStop\n",
     "STOP\U0001f64f"],
)  # fmt: skip
def test_stop_words_in_any_case_with_punctuation_around(text: str) -> None:
    assert keyword(text) is Keyword.STOP


@pytest.mark.parametrize("text", ["START", "start!", "Unstop", " unstop thanks"])
def test_start_words(text: str) -> None:
    assert keyword(text) is Keyword.START


@pytest.mark.parametrize(
    "text",
    ["", "   ", "!!!", "please stop", "STOPPED", "stops", "S T O P", "ST0P", "don't stop", "startle",
     "end-game", "ending"],
)  # fmt: skip
def test_other_texts_are_no_keyword(text: str) -> None:
    assert keyword(text) is None


def test_first_word_keeps_inner_punctuation() -> None:
    assert first_word("  ¿don't? stop") == "DON'T"
    assert first_word("... \u2014 ") == ""
