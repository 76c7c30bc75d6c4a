"""The detector's verdicts as the alert engine's tests send them."""

from __future__ import annotations

from collections.abc import Iterable

from gridstream.bus.processor import OutRecord
from gridstream.bus.topics import TopicNames
from gridstream.schemas import anomaly_pb2, common_pb2

#: 0 a normal reading, 1 a warning, 2 critical: (score, severity)
LEVELS = (
    (0.0, common_pb2.SEVERITY_INFO),
    (0.7, common_pb2.SEVERITY_WARNING),
    (1.0, common_pb2.SEVERITY_CRITICAL),
)


def spike_verdict(series: str, ts: int, value: float, level: int) -> anomaly_pb2.Anomaly:
    """A verdict labelled ``spike`` at ``level`` (see :data:`LEVELS`)."""
    region, _, field = series.partition("/")
    score, severity = LEVELS[level]
    return anomaly_pb2.Anomaly(
        record_id=f"{series}@{ts}",
        series_id=series,
        region=region,
        field=field,
        ts_ms=ts,
        value=value,
        score=score,
        is_anomaly=level > 0,
        label="spike",
        severity=severity,
    )


def alerts_only(out: Iterable[OutRecord], topics: TopicNames | None = None) -> list[OutRecord]:
    """The records for the alerts topic (not their copies and watermarks on the feed)."""
    name = (topics or TopicNames()).alerts
    return [o for o in out if o.topic == name]
