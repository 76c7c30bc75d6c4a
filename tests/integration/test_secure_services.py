"""A service on the secure broker (SASL/SCRAM-SHA-512 over TLS), credentials from files.

The settings come from the ``client.env`` that ``broker start --secure`` writes: the password
is read from ``GRIDSTREAM_SASL_PASSWORD_FILE``, never from the environment. The preprocessor
cleans a reading through the secure broker; with a wrong password in the file its runner
fails at start-up with KafkaAuthError (no retry loop) and a message saying what to set.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.topics import TopicNames
from gridstream.config import load_settings
from gridstream.errors import KafkaAuthError
from gridstream.schemas.readings_pb2 import CleanReading, RawReading
from gridstream.services.preprocessor.service import SERVICE
from gridstream.services.registry import builder

from .secure_support import client_env, secure_cluster

pytestmark = pytest.mark.integration
T0 = 1_709_251_200_000  # 2024-03-01T00:00Z


def _env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], prefix: str, tmp: Path) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GRIDSTREAM_STATE_DIR", str(tmp))
    for logical, name in TopicNames().with_prefix(prefix + "-").all().items():
        monkeypatch.setenv(f"GRIDSTREAM_TOPICS__{logical.upper()}", name)


def test_preprocessor_runs_on_the_secure_broker_with_credentials_from_files(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, unique, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    env = client_env(secure_cluster(request.config))
    assert "GRIDSTREAM_SASL_PASSWORD" not in env and "GRIDSTREAM_SASL_PASSWORD_FILE" in env
    _env(monkeypatch, env, unique("sec"), tmp_path)
    settings = load_settings()
    assert settings.security_protocol == "SASL_SSL" and settings.sasl_password is not None
    parts = builder(SERVICE)(settings)
    worker = threading.Thread(target=parts.worker.run, daemon=True)
    worker.start()
    try:
        kafka = settings.kafka()
        producer = MessageProducer(kafka)
        producer.send(
            settings.topics.raw,
            "ALL/SYSTEM_DEMAND",
            RawReading(
                record_id=f"ALL/SYSTEM_DEMAND@{T0}",
                series_id="ALL/SYSTEM_DEMAND",
                region="ALL",
                field="SYSTEM_DEMAND",
                ts_ms=T0,
                value=4321.0,
                has_value=True,
                unit="MW",
            ),
        )
        producer.flush()
        deadline = time.monotonic() + 120
        out: list[float] = []
        while not out and time.monotonic() < deadline:
            assert worker.is_alive(), "the service died on the secure broker"
            out = [
                r.value.value for r in read_topic(kafka, settings.topics.preprocessed, CleanReading)
            ]
            time.sleep(0.5)
        assert out == [4321.0]
        assert parts.health().ready
    finally:
        parts.worker.stop()
        worker.join(60)


def test_wrong_password_in_the_file_fails_loudly_and_early(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, unique, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    env = client_env(secure_cluster(request.config))
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password-4711")
    env["GRIDSTREAM_SASL_PASSWORD_FILE"] = str(wrong)
    _env(monkeypatch, env, unique("secbad"), tmp_path)
    parts = builder(SERVICE)(load_settings())
    started = time.monotonic()
    with pytest.raises(KafkaAuthError) as info:
        parts.worker.run()  # no retry loop: wrong credentials cannot heal
    assert time.monotonic() - started < 60
    message = str(info.value)
    assert "GRIDSTREAM_SASL_PASSWORD" in message  # says what to fix
    assert "not-the-password-4711" not in message
    snapshot = parts.health()
    assert not snapshot.ready and "not-the-password-4711" not in snapshot.detail
