"""Recipient numbers: normalise, validate and de-duplicate what a client sends in `to`.

Clickatell wants international numbers as digits only (E.164 without `+`). We strip the usual
formatting, refuse to guess a country for a leading `0`, check the rest with phonenumbers, and remove
repeats. Built for up to 100,000 numbers per request: phonenumbers is the only per-number cost that
matters (~14 µs), everything else is str.translate, str methods and a set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_DIGITS = 8  # shorter than any mobile number with its country code
MAX_DIGITS = 15  # ITU-T E.164 maximum

EMPTY = "empty number"
NO_DIGITS = "contains no digits"
NOT_DIGITS = "contains characters other than digits"
LEADING_ZERO = "not in international format: a leading 0 needs a country code"
TOO_SHORT = "too short for an international number"
TOO_LONG = "too long: international numbers have at most 15 digits"
UNKNOWN_COUNTRY = "unknown country code"

# Formatting people paste from documents and spreadsheets: spaces (incl. non-breaking and thin ones),
# hyphens and dash look-alikes, dots and brackets. Deleting them in one translate call is C speed.
_FORMATTING = str.maketrans("", "", " \t\u00a0\u2009\u202f-\u2010\u2011\u2012\u2013\u2014\u2212.()")


@dataclass(frozen=True, slots=True)
class Rejection:
    to: str  # exactly as the client sent it (a comma-list item without its surrounding whitespace)
    reason: str  # human readable


@dataclass(frozen=True, slots=True)
class RecipientList:
    accepted: tuple[str, ...]  # E.164 digits without '+', first-seen order, no duplicates
    rejected: tuple[Rejection, ...]  # one per rejected input, in input order
    duplicates_removed: int  # inputs that repeat an accepted number
    normalised: int  # inputs kept (accepted or duplicate) whose digits differ from what was sent

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.rejected) + self.duplicates_removed


def parse_recipients(raw: str | Sequence[str]) -> RecipientList:
    """Normalise, validate and de-duplicate `raw`: a list of numbers or one comma-separated string.

    Every input ends up in exactly one of accepted, rejected or duplicates_removed. A repeated invalid
    number is rejected each time (the client can match every rejection to an input); only repeats of an
    accepted number count as duplicates.
    """
    items: Sequence[str] = [item.strip() for item in raw.split(",")] if isinstance(raw, str) else raw
    seen: set[str] = set()
    accepted: list[str] = []
    rejected: list[Rejection] = []
    # A bad number repeated thousands of times should not cost phonenumbers thousands of times.
    verdicts: dict[str, str] = {}
    duplicates = 0
    normalised = 0
    for item in items:
        if not isinstance(item, str):  # JSON can carry numbers or nulls; the caller may not have checked
            rejected.append(Rejection(str(item), "must be a string of digits"))
            continue
        sent = item.strip()
        if not sent:
            rejected.append(Rejection(item, EMPTY))
            continue
        digits = _normalise(sent)
        if digits in seen:
            duplicates += 1
            normalised += digits != sent
            continue
        reason = verdicts.get(digits)
        if reason is None:
            reason = verdicts[digits] = _check(digits)
        if reason:
            rejected.append(Rejection(item, reason))
            continue
        seen.add(digits)
        accepted.append(digits)
        normalised += digits != sent
    return RecipientList(tuple(accepted), tuple(rejected), duplicates, normalised)


def _normalise(sent: str) -> str:
    number = sent.translate(_FORMATTING)
    # Only one international prefix is removed: "+00..." is left with a leading 0 and rejected.
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return number[2:]
    return number


def _check(digits: str) -> str:
    """Reason the normalised number is unusable, or "" when it is a valid international number."""
    if not digits:
        return NO_DIGITS
    # isdigit alone would let through other scripts' digits and superscripts ("²").
    if not (digits.isascii() and digits.isdigit()):
        return NOT_DIGITS
    if digits[0] == "0":
        return LEADING_ZERO
    if len(digits) < MIN_DIGITS:
        return TOO_SHORT
    if len(digits) > MAX_DIGITS:
        return TOO_LONG
    # Imported at the first number that needs it: its metadata is ~25 ms of a cold start, and the
    # API's GET routes (and the sender, callbacks and sweeper) never check a number.
    import phonenumbers

    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return UNKNOWN_COUNTRY
        return "not a valid number"
    country = number.country_code
    if not phonenumbers.is_valid_number(number):
        return f"not a valid number for country code +{country}"
    # parse() silently drops a national trunk prefix after the country code ("+44 (0)7911 ...",
    # "27 0821..."), so the digits we would send are not the number it validated. Don't guess: say so.
    canonical = f"{country}{phonenumbers.national_significant_number(number)}"
    if canonical != digits:
        return f"not in international format: remove the national prefix after the country code ({canonical})"
    return ""
