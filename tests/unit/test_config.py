"""Settings: environment, secrets from files, placeholder rejection, env var listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridstream.config import SERVICE_PORTS, env_var_names, load_settings
from gridstream.errors import ConfigError


def test_environment_overrides_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDSTREAM_TOPICS__RAW", "my_raw")
    monkeypatch.setenv("GRIDSTREAM_BROKER__PORT", "19092")
    settings = load_settings()
    assert settings.topics.raw == "my_raw"
    assert settings.kafka().bootstrap == "127.0.0.1:19092"
    monkeypatch.setenv("GRIDSTREAM_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    assert load_settings().kafka().bootstrap == "kafka-1:9092,kafka-2:9092"


def test_secret_from_file_is_read_and_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cr3t-from-a-file-123\n")
    monkeypatch.setenv("GRIDSTREAM_SASL_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("GRIDSTREAM_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("GRIDSTREAM_SASL_USERNAME", "gridstream")
    settings = load_settings()
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "s3cr3t-from-a-file-123"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.kafka())
    conf = settings.kafka().client_config()
    assert conf["sasl.password"] == "s3cr3t-from-a-file-123"
    assert conf["security.protocol"] == "sasl_ssl" and conf["sasl.mechanism"] == "SCRAM-SHA-512"


@pytest.mark.parametrize("token", ["changeme", "secret", "short"])
def test_placeholder_or_short_tokens_are_refused(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("GRIDSTREAM_CONTROL_TOKEN", token)
    with pytest.raises(ConfigError, match="GRIDSTREAM_CONTROL_TOKEN"):
        load_settings()


def test_invalid_value_gives_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDSTREAM_PROCESSING_GUARANTEE", "maybe_once")
    with pytest.raises(ConfigError, match="GRIDSTREAM_PROCESSING_GUARANTEE"):
        load_settings()


def test_env_var_names_cover_nested_and_file_settings() -> None:
    names = env_var_names()
    assert {
        "GRIDSTREAM_BOOTSTRAP",
        "GRIDSTREAM_TOPICS__RAW",
        "GRIDSTREAM_BROKER__PORT",
        "GRIDSTREAM_CONTROL_TOKEN_FILE",
        "GRIDSTREAM_SASL_PASSWORD_FILE",
    } <= names
    assert SERVICE_PORTS["smart-ingestor"] == 5100 and SERVICE_PORTS["dashboard"] == 8080
