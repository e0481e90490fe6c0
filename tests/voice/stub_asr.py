"""An OpenAI-compatible transcription server on loopback (`POST /v1/audio/transcriptions`).

The real `openai` client talks to it. It reads the multipart upload, checks the WAV it was
sent (rate, channels, duration) and answers with a scripted transcript; it can also be slow,
fail with a status, or answer with an injection attempt (that is just a scripted transcript).
"""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Heard:
    """One transcription request as the stub received it."""

    rate: int
    channels: int
    sample_width: int
    seconds: float
    fields: dict[str, str]  # model, language, prompt, response_format
    filename: str

    @property
    def prompt(self) -> str:
        """The recognition prompt sent."""
        return self.fields.get("prompt", "")


class StubASR:
    """The server; set `transcript`, `status` or `delay`, then read `heard`."""

    def __init__(self) -> None:
        self.transcript = ""
        self.status = 200
        self.delay = 0.0
        self.heard: list[Heard] = []
        self.arrived: list[float] = []  # time.perf_counter() as each request began
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL to set as TRANSCRIBE_BASE_URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> StubASR:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake slow handlers and stop serving."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def answer(self, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Record the request, then the scripted status and body."""
        heard = _read_upload(content_type, body)
        with self._lock:
            self.heard.append(heard)
        if self.delay:
            self.release.wait(self.delay)
        if self.status != 200:
            return self.status, {"error": {"message": "stub failure", "type": "server_error"}}
        return 200, {"text": self.transcript}


def _read_upload(content_type: str, body: bytes) -> Heard:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    audio, filename = b"", ""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            audio, filename = payload, part.get_filename() or ""
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8")
    with wave.open(io.BytesIO(audio), "rb") as wav:  # raises if it is not a valid WAV
        frames, rate = wav.getnframes(), wav.getframerate()
        return Heard(rate, wav.getnchannels(), wav.getsampwidth(), frames / rate, fields, filename)


def _handler(stub: StubASR) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            with stub._lock:
                stub.arrived.append(time.perf_counter())
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != "/v1/audio/transcriptions":
                self._reply(404, {"error": {"message": "not found"}})
                return
            try:
                status, answer = stub.answer(self.headers.get("Content-Type", ""), body)
            except Exception as exc:  # a malformed upload is the client's bug: say so
                status, answer = 400, {"error": {"message": f"bad upload: {exc}"}}
            self._reply(status, answer)

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
