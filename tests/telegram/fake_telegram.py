"""A fake Telegram Bot API on loopback that the real PTB `Bot` talks to, and a uvicorn runner.

It answers getMe, sendMessage, answerCallbackQuery, getUpdates, setWebhook and deleteWebhook the
way Telegram does (`{"ok": true, "result": ...}`), checks the token in the path, and records
every call so tests can read exactly what the bot sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.types import ASGIApp

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "telegram"
TOKEN = "123456789:AAF-test-token_for-bankbot"
BOT_USER = {
    "id": 777000,
    "is_bot": True,
    "first_name": "bankbot",
    "username": "bankbot_demo_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


def payload(name: str) -> dict[str, Any]:
    """A recorded update shape from tests/payloads/telegram (a fresh copy)."""
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Call:
    """One Bot API request as the fake received it."""

    method: str
    params: dict[str, Any]


class FakeTelegram:
    """The fake server: start it, point TELEGRAM_API_BASE_URL at `url`, read `calls`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._message_id = 1000
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.downloads: list[str] = []  # file paths downloaded
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL without '/bot' (the adapter appends it)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()

    def queue_update(self, update: dict[str, Any]) -> None:
        """Make an update available to getUpdates."""
        with self._lock:
            self._updates.append(update)

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls, optionally of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Wait until at least `count` calls of `method` arrived; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{method}: {len(self.calls(method))} calls, wanted {count}")

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self._calls.append(Call(method, params))
            if method == "getMe":
                return BOT_USER
            if method == "sendMessage":
                self._message_id += 1
                chat_id = int(params["chat_id"])
                kind = "private" if chat_id > 0 else "supergroup"
                return {
                    "message_id": self._message_id,
                    "from": BOT_USER,
                    "chat": {"id": chat_id, "type": kind},
                    "date": int(time.time()),
                    "text": params["text"],
                }
            if method == "getFile":
                found = self.files.get(str(params.get("file_id")))
                if found is None:
                    return None
                path, data = found
                file_id = str(params["file_id"])
                return {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "file_size": len(data),
                    "file_path": path,
                }
            if method == "getUpdates":
                offset = int(params.get("offset") or 0)
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                return list(self._updates)
        if method in {"answerCallbackQuery", "setWebhook", "deleteWebhook"}:
            return True
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Telegram: PTB reuses connections

            def do_GET(self) -> None:
                # File downloads: /file/bot<token>/<file_path>
                prefix = f"/file/bot{fake.token}/"
                path = self.path.removeprefix(prefix)
                found = [d for p, d in fake.files.values() if p == path]
                if not self.path.startswith(prefix) or not found:
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                with fake._lock:
                    fake.downloads.append(path)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(found[0])))
                self.end_headers()
                self.wfile.write(found[0])

            def do_POST(self) -> None:
                prefix, _, method = self.path.lstrip("/").partition("/")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if prefix != f"bot{fake.token}":
                    self._reply(
                        401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    )
                    return
                params = _params(self.headers.get("Content-Type", ""), body)
                result = fake._answer(method, params)
                if method == "getUpdates" and result == [] and params.get("timeout"):
                    time.sleep(min(float(params["timeout"]), 0.2))  # long polling, briefly
                if result is None:
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                self._reply(200, {"ok": True, "result": result})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet

        return Handler


def _params(content_type: str, body: str) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        loaded: dict[str, Any] = json.loads(body)
        return loaded
    params: dict[str, Any] = dict(parse_qsl(body, keep_blank_values=True))
    for key in ("reply_markup", "allowed_updates", "link_preview_options"):
        if key in params:
            params[key] = json.loads(params[key])
    return params


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Run an ASGI app (lifespan included) under uvicorn on 127.0.0.1; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started or not thread.is_alive(), "uvicorn did not start")
    assert server.started, "uvicorn failed to start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait(done: Callable[[], bool], message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.01)
