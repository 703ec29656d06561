"""Replies (MO messages) and opted-out handsets: Clickatell's two-way side of the simulator.

- `POST /_sim/mo` with `{"from", "to", "text"}` (optional `format`, `method`: POST | GET, `mo_msg_id`
  to repeat an earlier callback, `timestamp` as Clickatell writes it) delivers an MO callback to the
  configured URL the way Clickatell does. Formats of the legacy API carry the fields `api_id, moMsgId,
  from, to, timestamp, text, charset, udh`, the timestamp in GMT+2, Latin-1 text as is
  (`charset=ISO-8859-1`), anything else as hex UCS-2 (`charset=UCS-2`):
  `form` (form fields, GET or POST), `xml` (a `<callback>` document in the `data` field, GET or POST),
  `json` (the fields as a JSON object, POST). `one` is the One API's receive message callback (JSON
  POST: `integrationId`, `event.moText[]` with `messageId, from, to, timestamp` in milliseconds,
  `content` as text, `charset` UTF-8). The default is `one` when the stack sends through the One API,
  else `form`. The answer says what the stack answered.
- `POST /_sim/opt_outs` with `{"add": [...], "remove": [...]}` (or `{"numbers": [...]}` to replace the
  set): sendmsg answers `ERR: 122, Destination mobile opted out` for these numbers. `GET` lists them.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

import urllib3

from local.simulator.options import _callback_url

CLICKATELL_ZONE = timezone(timedelta(hours=2))
FORMATS = ("form", "xml", "json", "one")
POST_ONLY = frozenset({"json", "one"})
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class MoChannel:
    def __init__(self, api_id: str) -> None:
        self._api_id = api_id
        self._lock = threading.Lock()
        self._url: str | None = None
        self._default_format = "form"
        self._opted_out: frozenset[str] = frozenset()
        self._timestamps: dict[str, str] = {}  # a repeated callback carries its first timestamp
        self._http = urllib3.PoolManager(num_pools=2, maxsize=2, retries=False)

    def configure(self, url: str | None, api: str = "http") -> None:
        """Where MO callbacks go (loopback only, like delivery callbacks), and which API's shape they
        take by default: `one` sends the One API's, anything else the legacy form fields."""
        with self._lock:
            self._url = _callback_url(url)
            self._default_format = "one" if api == "one" else "form"

    @property
    def opted_out(self) -> frozenset[str]:
        """Read without the lock on the hot path: the set is replaced, never changed in place."""
        return self._opted_out

    def reset(self) -> None:
        with self._lock:
            self._opted_out = frozenset()
            self._timestamps.clear()

    def stop(self) -> None:
        self._http.clear()

    def control(self, method: str, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        if name == "opt_outs":
            if method == "POST":
                self._change_opt_outs(body)
            return 200, {"numbers": sorted(self._opted_out)}
        if name == "mo" and method == "POST":
            return self.deliver(body)
        if name == "mo/config" and method == "POST":  # what `configure` sets, for a simulator process
            url, api = body.get("url"), body.get("api", "http")
            if not isinstance(url, str | None) or not isinstance(api, str):
                raise ValueError("give url (a loopback URL or null) and api as strings")
            self.configure(url, api=api)
            return 200, {"url": self._url, "format": self._default_format}
        return 404, {"error": f"no such control: {method} /_sim/{name}"}

    def _change_opt_outs(self, body: dict[str, Any]) -> None:
        unknown = set(body) - {"add", "remove", "numbers"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        lists = {name: body.get(name, []) for name in ("add", "remove", "numbers")}
        if not all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in lists.values()):
            raise ValueError("add, remove and numbers are lists of number strings")
        with self._lock:
            current = set(lists["numbers"]) if "numbers" in body else set(self._opted_out)
            self._opted_out = frozenset((current | set(lists["add"])) - set(lists["remove"]))

    def deliver(self, body: dict[str, Any]) -> tuple[int, Any]:
        sender, to, text = (body.get(name) for name in ("from", "to", "text"))
        if not all(isinstance(v, str) for v in (sender, to, text)) or not sender:
            return 400, {"error": "give from, to and text as strings"}
        wire = str(body.get("format", self._default_format))
        method = str(body.get("method", "POST")).upper()
        if wire not in FORMATS or method not in ("GET", "POST") or (wire in POST_ONLY and method == "GET"):
            return 400, {
                "error": f"format is one of {FORMATS} (json and one only with POST), method GET or POST"
            }
        url = self._url
        if url is None:
            return 409, {"error": "no MO callback URL is configured"}
        mo_msg_id = str(body.get("mo_msg_id") or secrets.token_hex(16))
        fields = self._fields(mo_msg_id, str(sender), str(to), str(text))
        with self._lock:
            if "timestamp" in body:
                self._timestamps[mo_msg_id] = str(body["timestamp"])
            fields["timestamp"] = self._timestamps.setdefault(mo_msg_id, fields["timestamp"])
        try:
            status, answer = self._send(url, method, wire, fields)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return 200, {"delivered": False, "moMsgId": mo_msg_id, "error": type(error).__name__}
        return 200, {
            "delivered": 200 <= status < 300,
            "status": status,
            "answer": answer,
            "moMsgId": mo_msg_id,
        }

    def _fields(self, mo_msg_id: str, sender: str, to: str, text: str) -> dict[str, str]:
        try:
            text.encode("latin-1")
            charset, wire_text = "ISO-8859-1", text
        except UnicodeEncodeError:
            charset, wire_text = "UCS-2", text.encode("utf-16-be").hex().upper()
        return {
            "api_id": self._api_id,
            "moMsgId": mo_msg_id,
            "from": sender,
            "to": to,
            "timestamp": datetime.now(CLICKATELL_ZONE).strftime(TIMESTAMP_FORMAT),
            "text": wire_text,
            "charset": charset,
            "udh": "",
        }

    def _send(self, url: str, method: str, wire: str, fields: dict[str, str]) -> tuple[int, str]:
        timeout = urllib3.Timeout(connect=2.0, read=10.0)
        if wire in POST_ONLY:
            payload = json.dumps(one_api_callback(fields) if wire == "one" else fields).encode()
            headers = {"Content-Type": "application/json"}
            response = self._http.request("POST", url, body=payload, headers=headers, timeout=timeout)
        else:
            # Form fields in the charset they name; an XML document is UTF-8 (it names no charset of its own).
            latin1 = wire == "form" and fields["charset"] == "ISO-8859-1"
            wire_fields = {"data": xml_callback(fields)} if wire == "xml" else fields
            encoded = urllib.parse.urlencode(wire_fields, encoding="latin-1" if latin1 else "utf-8")
            if method == "GET":
                joiner = "&" if urllib.parse.urlsplit(url).query else "?"
                response = self._http.request("GET", url + joiner + encoded, timeout=timeout)
            else:
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                response = self._http.request(
                    "POST", url, body=encoded.encode(), headers=headers, timeout=timeout
                )
        return response.status, response.data.decode("utf-8", "replace")


def xml_callback(fields: dict[str, str]) -> str:
    """The legacy fields as Clickatell's XML callback document."""
    return (
        "<callback>"
        + "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
        + "</callback>"
    )


def one_api_callback(fields: dict[str, str]) -> dict[str, Any]:
    """The same reply as the One API's receive message callback: the text itself (UTF-8 JSON), the
    time in UNIX milliseconds."""
    text = fields["text"]
    if fields["charset"] == "UCS-2":
        text = bytes.fromhex(text).decode("utf-16-be")
    timestamp = fields["timestamp"]
    if not timestamp.isdigit():
        moment = datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=CLICKATELL_ZONE)
        timestamp = str(int(moment.timestamp()) * 1000)
    return {
        "integrationId": fields["api_id"],
        "integrationName": "bulksms-simulator",
        "event": {
            "moText": [
                {
                    "channel": "sms",
                    "messageId": fields["moMsgId"],
                    "relatedMessageId": None,
                    "relatedClientMessageId": None,
                    "from": fields["from"],
                    "to": fields["to"],
                    "timestamp": int(timestamp),
                    "content": text,
                    "charset": "UTF-8",
                }
            ]
        },
    }
