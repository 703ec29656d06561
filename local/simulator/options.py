"""Fault and behaviour settings of the simulator, with the coercion used by the JSON API, CLI and env."""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self

from local.simulator.answers import ANSWER_STYLES, AnswerStyle

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name}: expected a boolean, got {value!r}")


def _number(name: str, value: Any, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if number != number or number < low or (high is not None and number > high):
        raise ValueError(f"{name}: {number} is outside [{low}, {high if high is not None else 'inf'}]")
    return number


def _optional_int(name: str, value: Any, low: int) -> int | None:
    if value is None or value == "" or (isinstance(value, str) and value.lower() == "none"):
        return None
    number = _number(name, value, low)
    if number != int(number):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    return int(number)


def parse_spec(spec: str) -> dict[str, str]:
    """`k=v,k=v` (the CLI and SIM_FAULTS syntax) into a dict of raw strings."""
    out: dict[str, str] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


class _Mergeable:
    """`merged(changes)` returns a validated copy; unknown names raise ValueError."""

    __slots__ = ()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def merged(self, changes: Mapping[str, Any]) -> Self:
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **dict(changes))  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        return {name: _jsonable(getattr(self, name)) for name in self.names()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


_RATES = ("http_5xx", "timeout", "reset", "err_per_number", "callback_duplicates", "callback_out_of_order")


@dataclass(frozen=True, slots=True)
class Faults(_Mergeable):
    """Injected failures. Rates are probabilities per request (per number for `err_per_number`,
    per message for the callback ones), drawn from one RNG seeded by `seed`."""

    http_5xx: float = 0.0
    timeout: float = 0.0
    reset: float = 0.0
    err_per_number: float = 0.0
    latency_ms: float = 0.0
    auth_fail: bool = False
    no_credit: bool = False
    callback_duplicates: float = 0.0
    callback_out_of_order: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in _RATES:
            object.__setattr__(self, name, _number(name, getattr(self, name), 0.0, 1.0))
        object.__setattr__(self, "latency_ms", _number("latency_ms", self.latency_ms))
        object.__setattr__(self, "auth_fail", _bool("auth_fail", self.auth_fail))
        object.__setattr__(self, "no_credit", _bool("no_credit", self.no_credit))
        object.__setattr__(self, "seed", _optional_int("seed", self.seed, -(2**63)))

    @classmethod
    def from_spec(cls, spec: str) -> Faults:
        return cls().merged(parse_spec(spec))


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _callback_url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    url = urllib.parse.urlsplit(str(value))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"callback_url: expected an http(s) URL, got {value!r}")
    host = url.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() in _LOOPBACK_NAMES
    if not loopback:
        raise ValueError(f"callback_url: only loopback hosts are allowed, got {host!r}")
    return str(value)


def _status_mix(value: Any) -> dict[str, float]:
    if isinstance(value, str):
        value = {k: v for k, v in (item.split(":", 1) for item in value.split(";") if item)}
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"callback_status_mix: expected a non-empty mapping, got {value!r}")
    mix: dict[str, float] = {}
    for status, weight in value.items():
        code = str(status).zfill(3)
        if len(code) != 3 or not code.isdigit():
            raise ValueError(f"callback_status_mix: bad status {status!r}")
        mix[code] = _number(f"callback_status_mix[{code}]", weight)
    if sum(mix.values()) <= 0:
        raise ValueError("callback_status_mix: weights must not all be zero")
    return mix


@dataclass(frozen=True, slots=True)
class Settings(_Mergeable):
    """Behaviour that is not a fault: answer shape, limits, credit and delivery callbacks."""

    answer_style: AnswerStyle = "lines"
    trailing_newline: bool = True
    max_recipients: int | None = None  # None: 600 for POST, 300 for GET (current Clickatell limits)
    credit: float | None = None  # None: unlimited; else every accepted recipient costs its parts
    stall_seconds: float = 30.0
    callback_url: str | None = None
    callback_method: str = "POST"
    callback_delay_ms: float = 200.0
    callback_status_mix: Mapping[str, float] = field(default_factory=lambda: {"004": 1.0})
    callback_retry_delays_ms: tuple[float, ...] = (200.0, 500.0, 1000.0)
    callback_timeout_s: float = 2.0
    # The One API integration's callback setting (it has no per-message level): 3 pushes intermediate
    # and final statuses, 0 none.
    one_api_callback_level: int = 3
    # "event": the One API's documented `{"integrationId", "integrationName", "event":
    # {"messageStatusUpdate": [...]}}`, which carries no `to`, only our clientMessageId (docs/one-api.md,
    # "Delivery callbacks"); "flat": the earlier REST API's status callback, one object with `to`.
    one_api_callback_shape: str = "event"

    def __post_init__(self) -> None:
        if self.answer_style not in ANSWER_STYLES:
            raise ValueError(f"answer_style: expected one of {ANSWER_STYLES}, got {self.answer_style!r}")
        set_ = object.__setattr__
        set_(self, "trailing_newline", _bool("trailing_newline", self.trailing_newline))
        set_(self, "max_recipients", _optional_int("max_recipients", self.max_recipients, 1))
        if self.credit is not None and self.credit != "":
            set_(self, "credit", _number("credit", self.credit, float("-inf")))
        else:
            set_(self, "credit", None)
        set_(self, "stall_seconds", _number("stall_seconds", self.stall_seconds))
        set_(self, "callback_url", _callback_url(self.callback_url))
        method = str(self.callback_method).upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"callback_method: expected GET or POST, got {self.callback_method!r}")
        set_(self, "callback_method", method)
        if self.one_api_callback_shape not in ("flat", "event"):
            raise ValueError(
                f"one_api_callback_shape: expected flat or event, got {self.one_api_callback_shape!r}"
            )
        set_(self, "callback_delay_ms", _number("callback_delay_ms", self.callback_delay_ms))
        set_(self, "callback_status_mix", _status_mix(self.callback_status_mix))
        delays = self.callback_retry_delays_ms
        if isinstance(delays, str):
            delays = tuple(d for d in delays.replace(";", " ").split() if d)
        set_(self, "callback_retry_delays_ms", tuple(_number("callback_retry_delays_ms", d) for d in delays))
        set_(self, "callback_timeout_s", _number("callback_timeout_s", self.callback_timeout_s, 0.001))
        set_(
            self,
            "one_api_callback_level",
            int(_number("one_api_callback_level", self.one_api_callback_level, 0, 7)),
        )

    def recipient_limit(self, method: str) -> int:
        if self.max_recipients is not None:
            return self.max_recipients
        return 300 if method == "GET" else 600
