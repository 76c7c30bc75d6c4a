"""Following one reading through the pipeline: what it became and what it fed.

A reading's id is ``"{series_id}@{ts_ms}"`` (the correlation id every later record carries
in some form): the clean reading and the anomaly verdict have the same id, features share
series and time, forecasts issued at that time are ``"{series_id}@{ts_ms}"`` too, schedules
list the forecasts they used, and actions list their evidence (forecasts, schedules,
anomalies, alerts) by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from gridstream.errors import ConfigError


@dataclass
class Trace:
    record_id: str
    series_id: str
    ts_ms: int
    steps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "series_id": self.series_id,
            "ts_ms": self.ts_ms,
            "steps": self.steps,
        }


def parse_record_id(record_id: str) -> tuple[str, int]:
    series, sep, ts = record_id.rpartition("@")
    if not sep or "/" not in series or not ts.lstrip("-").isdigit():
        raise ConfigError(
            f"{record_id!r} is not a record id: expected '{{region}}/{{field}}@{{ts_ms}}', "
            "e.g. ALL/SYSTEM_DEMAND@1656633600000"
        )
    return series, int(ts)


def _d(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = MessageToDict(msg, preserving_proto_field_name=True)
    return out


def build_trace(
    record_id: str,
    raw: Sequence[Any],
    clean: Sequence[Any],
    features: Sequence[Any],
    forecasts: Sequence[Any],
    anomalies: Sequence[Any],
    alerts: Sequence[Any],
    schedules: Sequence[Any],
    actions: Sequence[Any],
) -> Trace:
    """Link the records of each topic (decoded messages) that descend from ``record_id``."""
    series, ts = parse_record_id(record_id)
    trace = Trace(record_id, series, ts)
    trace.steps["raw"] = [_d(m) for m in raw if m.record_id == record_id]
    trace.steps["clean"] = [_d(m) for m in clean if m.record_id == record_id]
    trace.steps["features"] = [
        {
            "series_id": m.series_id,
            "ts_ms": str(m.ts_ms),
            "feature_set": m.feature_set,
            "features": len(m.features),
        }
        for m in features
        if m.series_id == series and m.ts_ms == ts
    ]
    fc = [m for m in forecasts if m.series_id == series and m.issue_time_ms == ts]
    fc_ids = {m.forecast_id for m in fc}
    trace.steps["forecasts"] = [
        {
            "forecast_id": m.forecast_id,
            "model_version": m.model_version,
            "model_kind": m.model_kind,
            "steps": len(m.steps),
        }
        for m in fc
    ]
    an = [m for m in anomalies if m.record_id == record_id]
    trace.steps["anomalies"] = [_d(m) for m in an]
    flagged = any(m.is_anomaly for m in an)
    al = [
        m
        for m in alerts
        if flagged
        and m.labels.get(
            "series_id", "/".join((m.labels.get("region", ""), m.labels.get("field", "")))
        )
        == series
        and m.starts_at_ms <= ts <= (m.ends_at_ms or ts)
    ]
    trace.steps["alerts"] = [
        {"fingerprint": m.fingerprint, "name": m.name, "state": m.state} for m in al
    ]
    sch = [m for m in schedules if fc_ids & set(m.forecast_ids)]
    sch_ids = {m.schedule_id for m in sch}
    trace.steps["schedules"] = [
        {
            "schedule_id": m.schedule_id,
            "region": m.region,
            "objective": m.objective,
            "solver_status": m.solver_status,
        }
        for m in sch
    ]
    evidence = fc_ids | sch_ids | {record_id} | {m.fingerprint for m in al}
    trace.steps["actions"] = [_d(m) for m in actions if evidence & set(m.evidence)]
    return trace
