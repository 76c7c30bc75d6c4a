"""Protobuf messages from the bus as the small JSON objects the browser draws."""

from __future__ import annotations

from typing import Any

from gridstream.schemas import (
    alert_pb2,
    anomaly_pb2,
    common_pb2,
    dead_letter_pb2,
    forecast_pb2,
    model_pb2,
    readings_pb2,
    rebalance_pb2,
    storage_pb2,
)


def _enum(enum: Any, value: int, prefix: str) -> str:
    name: str = enum.Name(value)
    return name.removeprefix(prefix).lower()


def _severity(value: int) -> str:
    return _enum(common_pb2.Severity, value, "SEVERITY_")


def _series(
    msg: readings_pb2.CleanReading | forecast_pb2.Forecast | anomaly_pb2.Anomaly,
) -> dict[str, Any]:
    """The series a per-series message belongs to: ``series``, ``region``, ``field``."""
    return {"series": msg.series_id, "region": msg.region, "field": msg.field}


def reading(msg: readings_pb2.CleanReading) -> dict[str, Any]:
    return {
        **_series(msg),
        "t": msg.ts_ms,
        "v": msg.value,
        "unit": msg.unit,
        "flags": [_enum(common_pb2.QualityFlag, f, "QUALITY_FLAG_") for f in msg.flags],
        "source": msg.source,
    }


def forecast(msg: forecast_pb2.Forecast, steps: int | None = None) -> dict[str, Any]:
    """The page's form of a forecast; ``steps=1`` keeps only the first (the band's) step, for
    a forecast that a later one of the same batch replaces."""
    kept = msg.steps if steps is None else msg.steps[:steps]
    return {
        "id": msg.forecast_id,
        **_series(msg),
        "issued": msg.issue_time_ms,
        "model": msg.model_version,
        "kind": msg.model_kind,
        "unit": msg.unit,
        "steps": [[s.target_time_ms, s.p10, s.p50, s.p90] for s in kept],
    }


def anomaly(msg: anomaly_pb2.Anomaly) -> dict[str, Any]:
    return {
        "id": msg.record_id,
        **_series(msg),
        "t": msg.ts_ms,
        "v": msg.value,
        "score": round(msg.score, 4),
        "label": msg.label,
        "severity": _severity(msg.severity),
        "explanation": msg.explanation,
    }


def alert(msg: alert_pb2.Alert) -> dict[str, Any]:
    return {
        "id": msg.fingerprint,
        "name": msg.name,
        "state": _enum(alert_pb2.AlertState, msg.state, "ALERT_STATE_"),
        "severity": _severity(msg.severity),
        "labels": dict(msg.labels),
        "summary": msg.annotations.get("summary", "") or msg.annotations.get("description", ""),
        "starts": msg.starts_at_ms,
        "ends": msg.ends_at_ms,
        "updated": msg.updated_at_ms,
        "silenced": msg.silenced,
        "acknowledged": msg.acknowledged,
        "acknowledged_by": msg.acknowledged_by,
        "occurrences": msg.occurrences,
    }


def schedule(msg: storage_pb2.StorageSchedule) -> dict[str, Any]:
    return {
        "id": msg.schedule_id,
        "region": msg.region,
        "issued": msg.issue_time_ms,
        "objective": msg.objective,
        "status": msg.solver_status,
        "fallback": msg.fallback,
        "reason": msg.reason,
        "solve_ms": round(msg.solve_ms, 1),
        "steps": [[s.ts_ms, s.charge_mw, s.discharge_mw, s.soc_mwh] for s in msg.steps],
    }


def action(msg: rebalance_pb2.RebalanceAction) -> dict[str, Any]:
    return {
        "id": msg.action_id,
        "region": msg.region,
        "kind": _enum(rebalance_pb2.ActionKind, msg.kind, "ACTION_KIND_"),
        "mw": round(msg.magnitude_mw, 1),
        "reason": msg.reason,
        "approval": _enum(rebalance_pb2.ApprovalState, msg.approval, "APPROVAL_STATE_"),
        "created": msg.created_at_ms,
        "from": msg.effective_from_ms,
        "until": msg.effective_until_ms,
        "decided_by": msg.decided_by,
        "mode": msg.mode,
        "evidence": list(msg.evidence),
    }


def dead_letter(msg: dead_letter_pb2.DeadLetter) -> dict[str, Any]:
    return {
        "service": msg.service,
        "reason": msg.reason[:300],
        "error_type": msg.error_type,
        "source": f"{msg.source_topic}/{msg.source_partition}/{msg.source_offset}",
        "t": msg.failed_at_ms,
    }


def model_update(msg: model_pb2.ModelUpdate) -> dict[str, Any]:
    return {
        "series": msg.series_id,
        "version": msg.model_version,
        "trained": msg.trained_at_ms,
        "reason": msg.reason,
        "metrics": {k: round(v, 3) for k, v in msg.metrics.items()},
    }


def system_event(msg: alert_pb2.SystemEvent) -> dict[str, Any]:
    return {
        "id": msg.event_id,
        "service": msg.service,
        "kind": msg.kind,
        "severity": _severity(msg.severity),
        "message": msg.message,
        "t": msg.ts_ms,
    }
