"""SASL/SCRAM-SHA-512 over TLS: credentials work, a wrong password fails early, no plaintext."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from gridstream.broker.cluster import LocalCluster
from gridstream.broker.ports import free_ports
from gridstream.bus.admin import Admin
from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.topics import TopicSpec
from gridstream.config import load_settings
from gridstream.errors import BrokerError, KafkaAuthError
from gridstream.schemas.readings_pb2 import RawReading

pytestmark = pytest.mark.integration


def _env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return dict(pairs)


@pytest.fixture(scope="module")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cluster = LocalCluster(tmp_path_factory.mktemp("secure"), port=free_ports(1)[0], secure=True)
    state = cluster.start()
    yield state
    cluster.stop()


def test_client_with_credentials_from_files_round_trips(
    secure_cluster, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    env = _env(Path(secure_cluster.client_env))
    password = Path(env["GRIDSTREAM_SASL_PASSWORD_FILE"]).read_text()
    assert "GRIDSTREAM_SASL_PASSWORD=" not in Path(secure_cluster.client_env).read_text()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.sasl_password is not None
    assert password not in repr(settings) and password not in str(settings.kafka())
    kafka = settings.kafka()
    caplog.set_level(logging.DEBUG)
    Admin(kafka).ensure_topics([TopicSpec("secure-topic", 1)])
    producer = MessageProducer(kafka, transactional_id="secure-tx")
    producer.begin()
    producer.send("secure-topic", "ALL/SYSTEM_DEMAND", RawReading(record_id="r1"))
    producer.commit()
    records = read_topic(kafka, "secure-topic", RawReading)
    assert [r.value.record_id for r in records] == ["r1"]
    assert password not in caplog.text  # secrets never reach the logs


def test_wrong_password_fails_loudly_and_early(secure_cluster) -> None:  # type: ignore[no-untyped-def]
    env = _env(Path(secure_cluster.client_env))
    bad = KafkaSettings(
        bootstrap=secure_cluster.bootstrap,
        security_protocol="SASL_SSL",
        ssl_ca_location=env["GRIDSTREAM_SSL_CA_LOCATION"],
        sasl_username="gridstream",
        sasl_password=SecretStr("definitely-not-the-password"),
    )
    with pytest.raises(KafkaAuthError) as info:
        Admin(bad).describe(timeout=10)
    assert "definitely-not-the-password" not in str(info.value)
    assert "GRIDSTREAM_SASL_PASSWORD" in str(info.value)


def test_plaintext_is_refused(secure_cluster) -> None:  # type: ignore[no-untyped-def]
    plain = KafkaSettings(bootstrap=secure_cluster.bootstrap)
    with pytest.raises(BrokerError):
        Admin(plain, quiet=True).describe(timeout=5)
