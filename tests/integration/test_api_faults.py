"""EirGrid API faults the other client tests do not cover, from a real local HTTP server.

Covered elsewhere (tests/unit/sources/test_client.py, tests/integration/test_ingest_api.py):
5xx, 429 with delta-seconds Retry-After, timeouts, malformed JSON, persistent failure -> gap,
gap announced once and backfilled on recovery. Here: TCP resets mid-answer, an HTML
maintenance page served with 200, a slow answer that still arrives in time, 429 with an
HTTP-date Retry-After, and a schema change (renamed fields, values as text): each is retried,
logged with its cause, and a span that cannot be read becomes a recorded gap, never wrong data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gridstream.schemas.readings_pb2 import RawReading
from gridstream.sources.client import CHART, ClientSettings, EirGridClient
from gridstream.sources.retry import BackoffPolicy

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid_api_fixtures"
JUN4 = (datetime(2025, 6, 3, 23, 0, tzinfo=UTC), datetime(2025, 6, 4, 23, 0, tzinfo=UTC))
HTML = b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"


class FaultyApi:
    """Answers ``/api/chart/`` from a script of faults; the last entry repeats."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.script: list[str] = []
        self.requests = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests += 1
                fault = api.script.pop(0) if len(api.script) > 1 else api.script[0]
                api.answer(self, fault)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, handler: BaseHTTPRequestHandler, fault: str) -> None:
        if fault == "reset":  # half an answer, then a TCP RST
            handler.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"Rows": [')
            handler.wfile.flush()
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
            return
        status, body, headers = 200, self.body, {"Content-Type": "application/json"}
        if fault == "html":
            body, headers = HTML, {"Content-Type": "text/html"}
        elif fault == "slow":
            time.sleep(0.4)
        elif fault == "429-date":
            when = datetime.now(UTC) + timedelta(seconds=30)
            status, body, headers = 429, b"slow down", {"Retry-After": format_datetime(when, True)}
        elif fault == "renamed":
            rows = json.loads(self.body)["Rows"]
            body = json.dumps(
                {"Data": [{k.lower(): v for k, v in r.items()} for r in rows]}
            ).encode()
        elif fault == "text-values":
            doc = json.loads(self.body)
            for row in doc["Rows"]:
                row["Value"] = "n/a" if row["Value"] is not None else None
            body = json.dumps(doc).encode()
        handler.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def api() -> Iterator[FaultyApi]:
    if not FIXTURES.exists():
        pytest.skip(f"API fixtures {FIXTURES} are absent (../shared/data beside the repo)")
    server = FaultyApi((FIXTURES / "solarProduction.json").read_bytes())
    yield server
    server.server.shutdown()
    server.server.server_close()


def fetch(api: FaultyApi, delays: list[float]) -> tuple[list[RawReading], EirGridClient]:
    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    client = EirGridClient(
        ClientSettings(
            base_url=api.url,
            timeout_s=2.0,
            requests_per_s=1000.0,
            endpoints=(CHART,),
            backoff=BackoffPolicy(base_s=0.5, cap_s=60.0, max_retries=3),
        ),
        sleep=fake_sleep,
        rng=random.Random(7),
    )

    async def run() -> list[RawReading]:
        async with client:
            return await client.fetch("solaractual", "ROI", *JUN4)

    return asyncio.run(run()), client


def expected(api: FaultyApi) -> int:
    return sum(r["Value"] is not None for r in json.loads(api.body)["Rows"])


@pytest.mark.parametrize(
    ("faults", "cause"),
    [
        (["reset", "reset", "ok"], "connection failed"),
        (["html", "ok"], "JSON"),
        (["slow", "ok"], ""),
        (["429-date", "ok"], "rate limited (429)"),
    ],
)
def test_transient_faults_are_retried_and_logged(
    api: FaultyApi, faults: list[str], cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    api.script = list(faults)
    delays: list[float] = []
    caplog.set_level(logging.INFO, logger="gridstream.sources.client")
    readings, client = fetch(api, delays)
    assert len(readings) == expected(api)
    assert client.gaps == []
    retries = len(faults) - 1 if faults[0] != "slow" else 0
    assert client.stats.retries == retries and api.requests == retries + 1
    if cause:
        retry_logs = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
        assert len(retry_logs) == retries and all(cause in m for m in retry_logs), retry_logs
    if faults[0] == "429-date":
        assert 25 <= delays[0] <= 30  # the HTTP date was honoured, not the backoff


@pytest.mark.parametrize("fault", ["renamed", "text-values", "html"])
def test_schema_change_becomes_a_gap_not_wrong_data(
    api: FaultyApi, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    api.script = [fault]
    caplog.set_level(logging.INFO, logger="gridstream.sources.client")
    readings, client = fetch(api, [])
    assert readings == []
    assert api.requests == 4  # the first try and three retries
    assert len(client.gaps) == 1
    gap = client.gaps[0]
    assert (gap.area, gap.region) == ("solaractual", "ROI")
    assert "gave up after 4 attempts" in gap.reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "solaractual/ROI" in warnings[0].getMessage()

    api.script = ["ok"]  # the API recovers: the recorded gap's span is read again in full
    readings, client = fetch(api, [])
    assert len(readings) == expected(api) and client.gaps == []
