"""A local HTTP receiver standing in for Slack's incoming webhooks and users' webhook endpoints.

It records every request (method, path, headers, body) and answers from a script: `answer_next(503)` makes
the next request get a 503, `answer_next(404, b"no_service", times=...)` a Slack-style refusal; everything
else gets 200 `ok`. `receiver` is the pytest fixture (import it into a test module to use it).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional

import pytest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: Dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    def __init__(self) -> None:
        self.requests: List[Received] = []
        self._script: List[_Answer] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def answer_next(self, status: int, body: bytes = b"", times: int = 1, headers: Optional[Dict[str, str]] = None,
                    delay: float = 0.0) -> None:
        with self._lock:
            self._script += [_Answer(status, body, dict(headers or {}), delay)] * times

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, request: Received) -> _Answer:
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if self._script else _Answer(200, b"ok")


def _handler(receiver: Receiver) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = receiver._answer(Received(self.command, self.path, dict(self.headers.items()), body))
            time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in {"Content-Type": "text/plain", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the sender stopped waiting (a delay past its timeout): as scripted

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.stop()
