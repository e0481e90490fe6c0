"""A fake WeCom API on loopback and WeCom-shaped callbacks, from the recorded payloads."""

from __future__ import annotations

import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import uvicorn
from starlette.types import ASGIApp
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.token_cache import StoredToken

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "wecom"
RESPONSES: dict[str, dict[str, Any]] = json.loads((PAYLOADS / "api-responses.json").read_text())

CORP_ID = "ww1234567890abcdef"  # as in the recorded XML
AGENT_ID = 1000002
SECRET = "fake-app-secret"
TOKEN = "bankbotTestToken"
AES_KEY = "RTBvU5AeR2uVvUGBp3o4rGa/vd06mW6Be7rpYIGZL+o"
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"  # a database of its own; tests delete their keys


def payload(name: str) -> str:
    """One recorded payload file as text."""
    return (PAYLOADS / name).read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None


class FakeWeCom:
    """gettoken and message/send with the recorded answer shapes; records every request.

    Tokens are issued as accesstoken000001, 000002, ...; message/send accepts only issued
    tokens (else 40014). `script` holds answers message/send gives first, one per call.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}  # media/get serves these files by MediaId
        self.reject_every_token = False
        self.delay = 0.0
        self._issued: set[str] = set()
        self._delivered: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where the fake listens (WECOM_API_BASE_URL)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeWeCom:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        """The fake's whole behaviour."""
        with self._lock:
            self.requests.append(Recorded(method, path, query, body))
            if path == "/cgi-bin/gettoken":
                if query.get("corpid") != CORP_ID or query.get("corpsecret") != SECRET:
                    return {"errcode": 40001, "errmsg": "invalid credential"}
                token = f"accesstoken{len(self._issued) + 1:06d}"
                self._issued.add(token)
                return {**RESPONSES["gettoken_ok"], "access_token": token}
            if path == "/cgi-bin/message/send":
                answer = self._send(query)
                if answer.get("errcode") == 0 and body is not None:
                    self._delivered.append(body)
                return answer
            return {"errcode": 404, "errmsg": "no such API in the fake"}

    def media_answer(self, query: dict[str, str]) -> bytes | dict[str, Any]:
        """media/get: the file's bytes for an issued token and a known MediaId, else JSON."""
        with self._lock:
            self.requests.append(Recorded("GET", "/cgi-bin/media/get", query, None))
            if self.reject_every_token or query.get("access_token") not in self._issued:
                return RESPONSES["token_invalid"]
            found = self.media.get(query.get("media_id", ""))
            return found if found is not None else {"errcode": 40007, "errmsg": "invalid media_id"}

    def calls(self, path: str) -> list[Recorded]:
        """Requests to one API path, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == f"/cgi-bin/{path}"]

    def sent(self, touser: str | None = None) -> list[dict[str, Any]]:
        """message/send request bodies, optionally for one recipient."""
        bodies = [r.body for r in self.calls("message/send") if r.body is not None]
        return [b for b in bodies if touser is None or b["touser"] == touser]

    def delivered(self, touser: str | None = None) -> list[dict[str, Any]]:
        """The message/send bodies the fake accepted (errcode 0): what reached a phone. A send
        refused for its token and sent again after a refresh is here once."""
        with self._lock:
            return [b for b in self._delivered if touser is None or b["touser"] == touser]

    def _send(self, query: dict[str, str]) -> dict[str, Any]:
        if self.script:
            return self.script.pop(0)
        if self.reject_every_token or query.get("access_token") not in self._issued:
            return RESPONSES["token_invalid"]
        return RESPONSES["message_send_ok"]


class MemoryTokenStore:
    """A `TokenStore` in a dict, for tests that are not about storage."""

    def __init__(self) -> None:
        self.values: dict[str, StoredToken] = {}

    def load(self, name: str) -> StoredToken | None:
        """The stored token, or None."""
        return self.values.get(name)

    def save(self, name: str, token: StoredToken, ttl: float) -> None:
        """Store the token."""
        self.values[name] = token

    def discard(self, name: str, value: str) -> None:
        """Remove it if it still holds `value`."""
        if name in self.values and self.values[name].value == value:
            del self.values[name]

    @contextmanager
    def fetching(self, name: str) -> Iterator[bool]:
        """One process only: nothing to lock."""
        yield True


def _handler(fake: FakeWeCom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self._reply(json.loads(self.rfile.read(length).decode("utf-8")))

        def _reply(self, body: Any) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            time.sleep(fake.delay)
            if url.path == "/cgi-bin/media/get":
                self._media(fake.media_answer(query))
                return
            data = json.dumps(fake.answer(self.command, url.path, query, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _media(self, answer: bytes | dict[str, Any]) -> None:
            if isinstance(answer, dict):  # WeCom answers errors as JSON
                data, kind = json.dumps(answer).encode(), "application/json; charset=utf-8"
            else:
                data, kind = answer, "audio/amr"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def text_xml(sender: str, content: str, msg_id: str, create_time: int) -> str:
    """The recorded text message with other values."""
    xml = payload("text-message.xml")
    xml = _cdata(xml, "FromUserName", sender)
    xml = _cdata(xml, "Content", content)
    xml = re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{msg_id}</MsgId>", xml)
    return re.sub(r"<CreateTime>\d+</CreateTime>", f"<CreateTime>{create_time}</CreateTime>", xml)


def voice_xml(sender: str, media_id: str, msg_id: str, create_time: int) -> str:
    """The recorded voice message with other values."""
    xml = payload("voice-message.xml")
    xml = _cdata(xml, "FromUserName", sender)
    xml = _cdata(xml, "MediaId", media_id)
    xml = re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{msg_id}</MsgId>", xml)
    return re.sub(r"<CreateTime>\d+</CreateTime>", f"<CreateTime>{create_time}</CreateTime>", xml)


def _cdata(xml: str, tag: str, value: str) -> str:
    return re.sub(
        rf"<{tag}><!\[CDATA\[.*?\]\]></{tag}>",
        lambda _: f"<{tag}><![CDATA[{value}]]></{tag}>",
        xml,
        flags=re.S,
    )


def envelope(
    inner_xml: str, *, timestamp: int | None = None, corp_id: str = CORP_ID
) -> tuple[dict[str, str], bytes]:
    """(query params, POST body) for a callback: encrypted like WeCom, outer XML as recorded."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = "1372623149"
    out = ET.fromstring(
        WeChatCrypto(TOKEN, AES_KEY, corp_id).encrypt_message(inner_xml, nonce, stamp)
    )
    encrypt, signature = out.findtext("Encrypt") or "", out.findtext("MsgSignature") or ""
    body = _cdata(payload("outer-envelope.xml"), "Encrypt", encrypt)
    params = {"msg_signature": signature, "timestamp": stamp, "nonce": nonce}
    return params, body.encode("utf-8")


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until `check()` holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive())
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
