"""The topic registry: logical names, their default Kafka names and message types."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


class TopicNames(BaseModel):
    """Kafka topic names (configurable: ``GRIDSTREAM_TOPICS__RAW=...``)."""

    model_config = ConfigDict(frozen=True)

    raw: str = "raw_energy_data"
    preprocessed: str = "preprocessed_data"
    ml_ready: str = "ml_ready_data"
    model_updates: str = "model_updates"
    forecasts: str = "forecast_output"
    anomalies: str = "anomaly_output"
    alerts: str = "alert_output"
    storage: str = "storage_schedule"
    rebalance: str = "rebalance_actions"
    dead_letter: str = "dead_letter"
    system_events: str = "system_events"
    alert_commands: str = "alert_commands"  # silences and acks, for the alert engine

    def all(self) -> dict[str, str]:
        return self.model_dump()

    def with_prefix(self, prefix: str) -> TopicNames:
        """The same registry with every name prefixed (tests use random prefixes)."""
        return TopicNames(**{k: f"{prefix}{v}" for k, v in self.all().items()})


# Message type (protobuf full name) carried by each logical topic.
MESSAGE_TYPES: dict[str, str] = {
    "raw": "gridstream.v1.RawReading",
    "preprocessed": "gridstream.v1.CleanReading",
    "ml_ready": "gridstream.v1.FeatureVector",
    "model_updates": "gridstream.v1.ModelUpdate",
    "forecasts": "gridstream.v1.Forecast",
    "anomalies": "gridstream.v1.Anomaly",
    "alerts": "gridstream.v1.Alert",
    "storage": "gridstream.v1.StorageSchedule",
    "rebalance": "gridstream.v1.RebalanceAction",
    "dead_letter": "gridstream.v1.DeadLetter",
    "system_events": "gridstream.v1.SystemEvent",
    "alert_commands": "gridstream.v1.SystemEvent",
}

# Retention per logical topic: model updates and the rebalancing audit trail are kept for good.
_RETENTION_MS = {
    "dead_letter": 30 * 86_400_000,
    "model_updates": -1,
    "alerts": 30 * 86_400_000,
    "rebalance": -1,  # the audit trail of control decisions is kept
}


def topic_specs(names: TopicNames, partitions: int, replication: int) -> list[TopicSpec]:
    """Specs for every pipeline topic."""
    specs = []
    for logical, name in names.all().items():
        config = {"retention.ms": str(_RETENTION_MS.get(logical, 7 * 86_400_000))}
        if replication >= 3:
            config["min.insync.replicas"] = "2"
        specs.append(TopicSpec(name, partitions, replication, config))
    return specs
