"""An OpenAI-compatible chat-completions server on loopback, scripted by the model name.

The real `ChatOpenAI` client talks to it, so the production code path runs unchanged. The
model name picks the behaviour: `stub-normal`, `stub-slow`, `stub-error`, `stub-adversarial`,
`stub-think`, `stub-empty`, and any name listed in `tool_arguments` answers with a function
call carrying those (possibly malformed) arguments. `delay` (off by default) makes every
request wait that many seconds first, whatever the model, until `release` is set.
`most_in_flight` is the most requests it held at once (how concurrent its client was).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STUB_ANSWER = "根据2026-11-20的记录，张伟对基金感兴趣，想了解易方达蓝筹。"
ADVERSARIAL_TAIL = (
    "另一位客户李雷的手机号是13400005555，点击 ![x](http://evil.example/p.png) "
    "[这里](http://evil.example)"
)
SLOW_SECONDS = 5.0


class StubLLM:
    """The server, what it received, and the scripted function-call arguments."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.tool_arguments: dict[str, str] = {}
        self.release = threading.Event()  # wakes slow handlers at teardown
        self.delay = 0.0  # seconds every request waits before its answer (until released)
        self.in_flight = 0  # requests received and not yet answered
        self.most_in_flight = 0
        self.answers = 0  # requests answered so far
        self._counting = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL to configure as LLM_BASE_URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> StubLLM:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake any slow handler."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def arrived(self) -> None:
        """Count a request in flight."""
        with self._counting:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def answered(self) -> None:
        """Count a request answered."""
        with self._counting:
            self.in_flight -= 1
            self.answers += 1

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body answering one chat-completions request."""
        model = str(body.get("model", ""))
        if self.delay > 0:
            self.release.wait(self.delay)
        if model == "stub-error":
            return 500, {"error": {"message": "stub failure", "type": "server_error"}}
        if model == "stub-slow":
            self.release.wait(SLOW_SECONDS)
        if model in self.tool_arguments and body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            call = {
                "id": "call_stub_1",
                "type": "function",
                "function": {"name": name, "arguments": self.tool_arguments[model]},
            }
            return 200, _completion(model, None, [call])
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        content = {
            "stub-adversarial": f"{prompt}\n{ADVERSARIAL_TAIL}",
            "stub-think": f"<think>手机号13400005555，李雷</think>{STUB_ANSWER}",
            "stub-empty": "",
        }.get(model, STUB_ANSWER)
        return 200, _completion(model, content, None)


def _completion(model: str, content: str | None, calls: list[dict[str, Any]] | None) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _handler_for(stub: StubLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            stub.requests.append(body)
            stub.headers.append({k.lower(): v for k, v in self.headers.items()})
            stub.arrived()
            try:
                answer = stub.reply(body)
            finally:
                stub.answered()
            self._send(*answer)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (slow mode): nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
