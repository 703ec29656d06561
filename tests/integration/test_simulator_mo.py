# ruff: noqa: F811 - fixtures imported from tests.integration.sim_client are redefined as parameters
"""The simulator's two-way side over real sockets: /_sim/opt_outs makes sendmsg answer ERR: 122 for
those numbers, /_sim/mo sends a reply to a loopback URL in Clickatell's MO fields."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree  # parses what our own simulator wrote

import pytest
import urllib3

from local.simulator import ClickatellSimulator
from tests.integration.sim_client import (  # noqa: F401 - fixtures
    AUTH,
    N1,
    N2,
    N3,
    control,
    http,
    send,
    sim,
)

pytestmark = pytest.mark.timeout(10)


def test_opted_out_numbers_get_err_122_until_removed_or_reset(
    sim: ClickatellSimulator, http: urllib3.PoolManager
) -> None:
    assert control(http, sim, "/_sim/opt_outs", {"add": [N1, N3]}) == (200, {"numbers": [N1, N3]})
    lines = send(http, sim, to=f"{N1},{N2},{N3}", text="hi").splitlines()
    assert lines[0] == f"ERR: 122, Destination mobile opted out To: {N1}"
    assert lines[1].startswith("ID: ") and lines[1].endswith(f"To: {N2}")
    assert lines[2] == f"ERR: 122, Destination mobile opted out To: {N3}"
    assert sim.messages_for(N1) == []

    assert control(http, sim, "/_sim/opt_outs", {"remove": [N1]}) == (200, {"numbers": [N3]})
    assert send(http, sim, to=N1, text="hi").startswith("ID: ")
    assert control(http, sim, "/_sim/opt_outs", {"numbers": [N2]}) == (200, {"numbers": [N2]})
    sim.reset()
    assert send(http, sim, to=N2, text="hi").startswith("ID: ")
    assert control(http, sim, "/_sim/opt_outs", {"add": "N1"})[0] == 400
    assert control(http, sim, "/_sim/opt_outs", {"nope": []})[0] == 400


def test_a_reply_goes_out_as_clickatell_mo_fields(
    sim: ClickatellSimulator, http: urllib3.PoolManager
) -> None:
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"stored")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert control(http, sim, "/_sim/mo", {"from": N1, "to": "27999000000", "text": "x"})[0] == 409
        sim.mo.configure(f"http://127.0.0.1:{server.server_address[1]}/mo?token=t")
        status, answer = control(http, sim, "/_sim/mo", {"from": N1, "to": "27999000000", "text": "Привет"})
        assert status == 200 and (answer["delivered"], answer["answer"]) == (True, "stored")
        path, content_type, body = received[0]
        assert path == "/mo?token=t" and content_type == "application/x-www-form-urlencoded"
        fields = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        assert set(fields) == {"api_id", "moMsgId", "from", "to", "timestamp", "text", "charset", "udh"}
        assert (fields["from"], fields["charset"], fields["moMsgId"]) == (N1, "UCS-2", answer["moMsgId"])
        assert bytes.fromhex(fields["text"]).decode("utf-16-be") == "Привет"

        control(http, sim, "/_sim/mo", {"from": N1, "to": "1", "text": "déjà", "format": "json"})
        document = json.loads(received[1][2])
        assert (received[1][1], document["text"], document["charset"]) == (
            "application/json",
            "déjà",
            "ISO-8859-1",
        )
        assert control(http, sim, "/_sim/mo", {"from": N1, "to": "1"})[0] == 400
        for refused in (
            {"format": "yaml"},
            {"format": "json", "method": "GET"},
            {"format": "one", "method": "GET"},
        ):
            assert control(http, sim, "/_sim/mo", {"from": N1, "to": "1", "text": "x", **refused})[0] == 400

        control(http, sim, "/_sim/mo", {"from": N1, "to": "1", "text": "a<b & déjà", "format": "xml"})
        data = dict(urllib.parse.parse_qsl(received[2][2].decode()))["data"]  # UTF-8, like any XML
        root = ElementTree.fromstring(data)
        assert root.tag == "callback" and [child.tag for child in root] == list(fields)
        assert (root.findtext("text"), root.findtext("charset")) == ("a<b & déjà", "ISO-8859-1")

        sim.mo.configure(f"http://127.0.0.1:{server.server_address[1]}/mo?token=t", api="one")
        _, answer = control(
            http, sim, "/_sim/mo", {"from": N1, "to": "2", "text": "Стоп", "timestamp": "2026-12-01 10:00:00"}
        )
        content_type, document = received[3][1], json.loads(received[3][2])
        (mo_text,) = document["event"]["moText"]
        assert content_type == "application/json" and document["integrationId"] == AUTH["api_id"]
        assert (mo_text["messageId"], mo_text["from"], mo_text["to"], mo_text["channel"]) == (
            answer["moMsgId"],
            N1,
            "2",
            "sms",
        )
        assert (mo_text["content"], mo_text["charset"], mo_text["timestamp"]) == (
            "Стоп",
            "UTF-8",
            1796112000000,
        )
        control(
            http, sim, "/_sim/mo", {"from": N1, "to": "2", "text": "x", "format": "form"}
        )  # still by option
        assert received[4][1] == "application/x-www-form-urlencoded"
    finally:
        server.shutdown()
        server.server_close()
