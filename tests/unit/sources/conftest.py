"""Shared fixtures: the real data folder and a real local HTTP server with scripted answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
FIXTURES = DATA / "eirgrid_api_fixtures"
RECORDED = DATA / "eirgrid" / "smartgriddashboard"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data {path} is absent (expected ../shared/data beside the repo)")
    return path


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"Rows": []}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class ScriptedServer:
    """Answers requests for a path from a queue (the last answer repeats)."""

    url: str
    script: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def answer_for(self, path: str) -> Answer:
        queue = self.script.get(path) or [Answer(404, b"not found")]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            state.requests.append((parsed.path, parse_qs(parsed.query)))
            answer = state.answer_for(parsed.path)
            if answer.delay_s:
                time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
