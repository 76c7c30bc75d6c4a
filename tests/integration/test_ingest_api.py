"""smart-ingestor against a real local HTTP server serving the recorded EirGrid API fixtures.

The API fails (5xx, then timeouts, then malformed JSON) and recovers: the gap is recorded,
announced once on ``system_events``, backfilled on recovery and closed; nothing is sent twice,
also not after a restart. The control endpoints need the token; ``GET /stream`` is open.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from gridstream.bus.reader import read_topic
from gridstream.http.app import create_app
from gridstream.schemas import alert_pb2, readings_pb2
from gridstream.services.ingestor.api import ingest_router
from gridstream.services.ingestor.jobs import LiveJob
from gridstream.services.ingestor.service import Ingestor
from gridstream.services.ingestor.settings import IngestSettings

from .ingest_support import RECORDED, pipeline_settings, wait_for

pytestmark = pytest.mark.integration
FIXTURES = RECORDED.parent / "eirgrid_api_fixtures"
TOKEN = "ingest-test-token-0123"
FILES = {"windactual": "windProduction.json", "solaractual": "solarProduction.json"}
NOW = datetime(2025, 6, 5, 0, 0, tzinfo=UTC).timestamp()  # 01:00 on 5 Jun, Irish summer time


class Api:
    """A real HTTP server answering ``/api/chart/`` from the fixtures, or failing on demand."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests += 1
                query = parse_qs(urlparse(self.path).query)
                status, body = api.answer(urlparse(self.path).path, query)
                if api.mode == "timeout":
                    time.sleep(0.6)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        if path != "/api/chart/":
            return 404, b"legacy endpoint not served here"
        if self.mode == "5xx":
            return 503, b"busy"
        if self.mode == "malformed":
            return 200, b'{"Rows": [{"EffectiveTime": '
        return 200, (FIXTURES / FILES[query["areas"][0]]).read_bytes()


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    yield server
    server.server.shutdown()
    server.server.server_close()


def non_null(name: str) -> int:
    return sum(r["Value"] is not None for r in json.loads((FIXTURES / name).read_text())["Rows"])


def test_api_failures_gap_backfill_and_control(
    api: Api, kafka_bootstrap, unique, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    if not FIXTURES.exists():
        pytest.skip(f"API fixtures {FIXTURES} are absent (../shared/data beside the repo)")
    settings = pipeline_settings(kafka_bootstrap, unique("api"), tmp_path, control_token=TOKEN)
    ingest = IngestSettings(
        source="idle",
        api_base_url=api.url,
        api_timeout_s=0.3,
        api_max_retries=1,
        api_backoff_base_s=0.01,
        api_requests_per_s=200.0,
        poll_seconds=0.2,
        lookback_hours=30.0,
        regions=("ROI",),
        areas=("windactual", "solaractual"),
    )
    ingestor = Ingestor(settings, ingest, clock=lambda: NOW)
    worker = threading.Thread(target=ingestor.run, daemon=True)
    worker.start()
    app = create_app(
        "smart-ingestor",
        ingestor.health.snapshot,
        ingestor.registry,
        [ingest_router(ingestor, settings, ingest)],
    )
    http = TestClient(app)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    kafka = settings.kafka()
    try:
        wait_for(lambda: ingestor.health.snapshot().ready, 60, "ingestor ready")
        assert http.post("/stream", json={"mode": "live"}).status_code == 401
        assert http.post("/stop").status_code == 401
        assert http.post("/stream", json={"mode": "warp"}, headers=auth).status_code == 422

        api.mode = "5xx"
        assert http.post("/stream", json={"mode": "live"}, headers=auth).status_code == 202
        wait_for(lambda: len(http.get("/status").json()["open_gaps"]) == 2, 30, "gaps recorded")
        for mode in ("timeout", "malformed"):
            seen = api.requests
            api.mode = mode
            wait_for(lambda s=seen: api.requests >= s + 8, 30, f"{mode} cycles")
        status = http.get("/status").json()
        assert status["state"] == "running" and status["records_sent"] == 0
        assert {g["area"] for g in status["open_gaps"]} == {"windactual", "solaractual"}
        assert http.post("/stream", json={"mode": "live"}, headers=auth).status_code == 409

        api.mode = "ok"
        wait_for(lambda: http.get("/status").json()["open_gaps"] == [], 30, "gap backfilled")
        seen = api.requests
        wait_for(lambda: api.requests >= seen + 8, 30, "more polls after recovery")
        status = http.get("/status").json()
        expected = non_null(FILES["windactual"]) + non_null(FILES["solaractual"])
        assert status["records_sent"] == expected
        assert set(status["watermarks"]) == {"ROI/WIND_ACTUAL", "ROI/SOLAR_ACTUAL"}

        compat = http.get("/stream").json()  # open, but never replaces a running job
        assert compat["started"] is False
        assert http.post("/stop", headers=auth).json()["stopped"] is True
        wait_for(lambda: http.get("/status").json()["state"] == "stopped", 30, "stopped")
    finally:
        ingestor.stop()
        worker.join(30)

    raw = read_topic(kafka, settings.topics.raw, readings_pb2.RawReading)
    ids = [r.value.record_id for r in raw]
    assert len(ids) == len(set(ids)) == expected
    events = [
        r.value for r in read_topic(kafka, settings.topics.system_events, alert_pb2.SystemEvent)
    ]
    kinds = sorted((e.kind, e.labels["area"]) for e in events)
    assert kinds == [
        ("ingest_gap", "solaractual"),
        ("ingest_gap", "windactual"),
        ("ingest_gap_filled", "solaractual"),
        ("ingest_gap_filled", "windactual"),
    ]  # announced once although several polls failed

    restarted = Ingestor(settings, ingest, clock=lambda: NOW)
    restarted.open()
    try:
        assert (
            restarted.execute(LiveJob(0.1, 30.0, ("ROI",), ("windactual", "solaractual"), 1)) == 0
        )
    finally:
        restarted.sink.close()
    assert len(read_topic(kafka, settings.topics.raw, readings_pb2.RawReading)) == expected
