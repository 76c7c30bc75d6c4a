"""Tokens and passwords never appear in logs, ``/status`` output or error messages.

A real service process (``gridstream service smart-alert-engine``) runs on the secure broker
with a known SASL password (from a file) and a known control token, logging at DEBUG
(librdkafka included). Its HTTP API is called with the right token, a wrong one and none;
then everything it printed and answered is searched for both secrets. The ingestor's
``/status`` and the configuration errors are checked the same way.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from gridstream.broker.ports import free_ports
from gridstream.bus.topics import TopicNames
from gridstream.config import load_settings
from gridstream.errors import ConfigError
from gridstream.http.app import create_app

from .secure_support import client_env, secure_cluster

pytestmark = pytest.mark.integration
TOKEN = "leak-test-token-5f3a9c0e21"
BIN = Path(sys.executable).parent / "gridstream"


def _service_env(env: dict[str, str], prefix: str, tmp: Path) -> dict[str, str]:
    topics = TopicNames().with_prefix(prefix + "-").all()
    return {
        **os.environ,
        **env,
        **{f"GRIDSTREAM_TOPICS__{k.upper()}": v for k, v in topics.items()},
        "GRIDSTREAM_STATE_DIR": str(tmp),
        "GRIDSTREAM_CONTROL_TOKEN": TOKEN,
        "GRIDSTREAM_LOG_LEVEL": "DEBUG",
    }


def test_service_logs_and_answers_never_contain_secrets(
    request: pytest.FixtureRequest, unique, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    env = client_env(secure_cluster(request.config))
    password = Path(env["GRIDSTREAM_SASL_PASSWORD_FILE"]).read_text().strip()
    assert len(password) >= 12
    port = free_ports(1)[0]
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(BIN), "service", "smart-alert-engine", "--port", str(port)],
            env=_service_env(env, unique("leak"), tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    answers: list[str] = []
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = False
        while not ready and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"{base}/ready", timeout=2).status_code == 200
            time.sleep(0.5)
        assert ready, log_path.read_text()[-3000:]
        good = {"Authorization": f"Bearer {TOKEN}"}
        bad = {"Authorization": f"Bearer {TOKEN}x"}
        silence = {"matchers": {"series": "ALL/*"}, "duration_minutes": 5, "comment": "t"}
        calls = [
            ("GET", "/health", {}, None),
            ("GET", "/ready", {}, None),
            ("GET", "/metrics", {}, None),
            ("GET", "/alerts", good, None),
            ("GET", "/silences", good, None),
            ("GET", "/rules", good, None),
            ("POST", "/rules/reload", bad, None),
            ("POST", "/rules/reload", {}, None),
            ("POST", "/silences", bad, silence),
            ("POST", "/silences", good, silence),
            ("POST", "/alerts/nope/ack", good, {"by": "tester"}),
        ]
        statuses = []
        for method, path, headers, body in calls:
            response = httpx.request(method, base + path, headers=headers, json=body, timeout=30)
            statuses.append(response.status_code)
            answers.append(f"{method} {path} {response.status_code} {response.text}")
        assert statuses[6] == 403 and statuses[7] == 401  # the guard works...
    finally:
        proc.terminate()
        proc.wait(60)
    output = log_path.read_text()
    assert "listening on http://127.0.0.1" in output  # the log was captured
    for text in (output, *answers):
        assert password not in text, "the SASL password leaked"
        assert TOKEN not in text, "the control token leaked"  # ...and never echoes it


def test_ingestor_status_and_config_errors_hide_secrets(
    monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, tmp_path: Path, unique
) -> None:  # type: ignore[no-untyped-def]
    from gridstream.services.ingestor.api import ingest_router
    from gridstream.services.ingestor.service import Ingestor
    from gridstream.services.ingestor.settings import IngestSettings

    password = "sasl-password-never-shown-77"
    secret_file = tmp_path / "sasl.password"
    secret_file.write_text(password)
    monkeypatch.setenv("GRIDSTREAM_SASL_PASSWORD_FILE", str(secret_file))
    monkeypatch.setenv("GRIDSTREAM_CONTROL_TOKEN", TOKEN)
    monkeypatch.setenv("GRIDSTREAM_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("GRIDSTREAM_STATE_DIR", str(tmp_path))
    for logical, name in TopicNames().with_prefix(unique("leaki") + "-").all().items():
        monkeypatch.setenv(f"GRIDSTREAM_TOPICS__{logical.upper()}", name)
    settings = load_settings()
    assert password not in repr(settings) and TOKEN not in repr(settings)
    assert password not in str(settings.model_dump()) and TOKEN not in str(settings.model_dump())
    ingest = IngestSettings(source="idle")
    ingestor = Ingestor(settings, ingest)
    app = create_app(
        "smart-ingestor",
        ingestor.health.snapshot,
        ingestor.registry,
        [ingest_router(ingestor, settings, ingest)],
    )
    client = TestClient(app)
    texts = [
        client.get("/status").text,
        client.get("/health").text,
        client.get("/ready").text,
        client.post("/stop", headers={"Authorization": f"Bearer {TOKEN[:-1]}"}).text,
        client.post(
            "/stream", json={"mode": "nope"}, headers={"Authorization": "Bearer " + TOKEN}
        ).text,
    ]
    for text in texts:
        assert password not in text and TOKEN not in text, text

    for bad_token in ("short-tok", "changeme"):  # rejected, and the value is not echoed
        monkeypatch.setenv("GRIDSTREAM_CONTROL_TOKEN", bad_token)
        with pytest.raises(ConfigError) as info:
            load_settings()
        assert bad_token not in str(info.value) and "CONTROL_TOKEN" in str(info.value)
