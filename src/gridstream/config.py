"""Settings from the environment (prefix ``GRIDSTREAM_``, nested with ``__``).

Built in ``main()`` of each entry point with ``load_settings()``, never at import time. Secrets
are ``SecretStr``; each may also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes
secrets). Placeholder secrets are rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.settings import KafkaSettings, SaslMechanism, SecurityProtocol
from gridstream.bus.topics import TopicNames
from gridstream.errors import ConfigError

ENV_PREFIX = "GRIDSTREAM_"
#: process-level variables read directly (not settings): where the forecaster's compiled tree
#: kernel is cached, and a directory holding a portable build (an image without a compiler)
KERNEL_CACHE_ENV = f"{ENV_PREFIX}KERNEL_CACHE"
KERNEL_PREBUILT_ENV = f"{ENV_PREFIX}KERNEL_PREBUILT"

SERVICE_PORTS: dict[str, int] = {
    "smart-ingestor": 5100,
    "smart-preprocessor": 5101,
    "smart-ml-preprocessor": 5102,
    "smart-model-trainer": 5103,
    "smart-ml-forecaster": 5104,
    "smart-anomaly-detector": 5105,
    "smart-alert-engine": 5106,
    "smart-grid-rebalancer": 5110,
    "smart-storage-optimizer": 5111,
    "dashboard": 8080,
}

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "password", "token", "admin", "xxx"}
SECRET_FILE_FIELDS = ("sasl_password", "ssl_key_password", "control_token")


class BrokerSettings(BaseModel):
    """The local broker that ``gridstream broker start`` and ``make run`` manage."""

    model_config = ConfigDict(frozen=True)

    port: int = Field(9092, ge=1, le=65535)
    nodes: int = Field(1, ge=1, le=5)
    version: str = "4.1.1"
    heap_mb: int = Field(512, ge=128)
    #: extra JVM flags (space-separated); unset: ``broker.cluster.QUICK_JIT``; "": none
    jvm_options: str | None = None


class Settings(BaseSettings):
    """Every setting GridStream reads. ``GRIDSTREAM_BOOTSTRAP`` points at an external cluster."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    bootstrap: str | None = None
    client_id: str = "gridstream"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: SecretStr | None = None
    ssl_endpoint_identification: bool = True
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    topics: TopicNames = Field(default_factory=TopicNames)
    topic_partitions: int = Field(3, ge=1)
    topic_replication: int = Field(1, ge=1)
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    instance_id: str = "0"
    batch_size: int = Field(500, ge=1)
    #: the least time between the starts of two batches: records that arrive sooner after
    #: the previous batch wait for more until then (one transaction per linger instead of
    #: per record at a live rate; a record after a quiet spell goes at once; 0 = no wait)
    batch_linger_ms: int = Field(20, ge=0, le=10_000)
    #: how long the broker may hold a fetch that finds no new committed data (librdkafka's
    #: ``fetch.wait.max.ms``, 500 ms by default). Shorter cuts the tail latency of each hop at
    #: live rates (a 10 readings/s bench: p99 reading -> clean 125 ms at 10 ms, 319 ms at
    #: 500 ms) but makes idle consumers poll the broker more often
    fetch_wait_ms: int = Field(100, ge=1, le=10_000)
    #: how time moves in joins and timers. ``event``: by the data alone (replay, backfill,
    #: simulation, verify), so a replay or a crash gives the same outputs. ``live``: also by
    #: the wall clock, but only past an input that has been idle for ``idle_advance_s``
    #: seconds, and every record decided that way says so
    clock: Literal["event", "live"] = "event"
    #: in ``live`` clock mode, wall seconds an input must be quiet before time moves on
    idle_advance_s: float = Field(30.0, gt=0, le=3600)
    #: glibc malloc arenas per service process (0 = glibc's default of 8 per core); see
    #: ``gridstream.services.memory``
    malloc_arenas: int = Field(2, ge=0, le=64)

    state_dir: Path = Path.home() / ".gridstream"
    data_dir: Path | None = None
    broker: BrokerSettings = Field(default_factory=lambda: BrokerSettings())

    http_host: str = "127.0.0.1"
    http_port: int | None = None
    control_token: SecretStr | None = None
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """``GRIDSTREAM_<SECRET>_FILE=/path`` reads the secret from that file."""
        import os

        if not isinstance(data, dict):
            return data
        for name in SECRET_FILE_FIELDS:
            path = os.environ.get(f"{ENV_PREFIX}{name.upper()}_FILE")
            if path and not data.get(name):
                try:
                    data[name] = Path(path).read_text().strip()
                except OSError as exc:
                    raise ValueError(f"cannot read {name} from {path}: {exc}") from exc
        return data

    @model_validator(mode="after")
    def _reject_placeholders(self) -> Settings:
        for name in ("control_token", "sasl_password"):
            value = getattr(self, name)
            if value is not None and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} is a placeholder: set a real secret")
        if self.control_token is not None and len(self.control_token.get_secret_value()) < 12:
            raise ValueError(f"{ENV_PREFIX}CONTROL_TOKEN must be at least 12 characters")
        return self

    @property
    def external_cluster(self) -> bool:
        return bool(self.bootstrap)

    @property
    def broker_state_dir(self) -> Path:
        return self.state_dir / "broker"

    @property
    def history_store(self) -> Path:
        """The DuckDB history store the trainer learns from (``history import`` fills it)."""
        return self.state_dir / "history" / "history.duckdb"

    def kafka(self, client_id: str | None = None) -> KafkaSettings:
        """Client settings for this process (local broker unless GRIDSTREAM_BOOTSTRAP is set)."""
        bootstrap = self.bootstrap or f"127.0.0.1:{self.broker.port}"
        return KafkaSettings(
            bootstrap=bootstrap,
            client_id=client_id or self.client_id,
            security_protocol=self.security_protocol,
            ssl_ca_location=self.ssl_ca_location,
            ssl_certificate_location=self.ssl_certificate_location,
            ssl_key_location=self.ssl_key_location,
            ssl_key_password=self.ssl_key_password,
            ssl_endpoint_identification=self.ssl_endpoint_identification,
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password=self.sasl_password,
        )

    def port_of(self, service: str) -> int:
        return self.http_port or SERVICE_PORTS[service]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; a clear ConfigError instead of a pydantic trace."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def env_var_names() -> set[str]:
    """Every environment variable the settings read (for compose/Kubernetes checks)."""
    names: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for field_name, info in model.model_fields.items():
            env = f"{prefix}{field_name.upper()}"
            names.add(env)
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, env + "__")

    walk(Settings, ENV_PREFIX)
    names.update(f"{ENV_PREFIX}{n.upper()}_FILE" for n in SECRET_FILE_FIELDS)
    names.update((KERNEL_CACHE_ENV, KERNEL_PREBUILT_ENV))
    return names
