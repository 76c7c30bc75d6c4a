"""Alerts on the wire: the ``Alert`` protobuf for ``alert_output`` and the JSON of the API
and webhooks (both from the core's :class:`~gridstream.core.alerts.model.Alert`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from gridstream.core.alerts.model import Alert, AlertState, Notification, Silence
from gridstream.schemas import alert_pb2, common_pb2

_STATE_TO_PB = {
    AlertState.PENDING: alert_pb2.ALERT_STATE_PENDING,
    AlertState.FIRING: alert_pb2.ALERT_STATE_FIRING,
    AlertState.RESOLVED: alert_pb2.ALERT_STATE_RESOLVED,
}
_SEVERITY_TO_PB = {
    "info": common_pb2.SEVERITY_INFO,
    "warning": common_pb2.SEVERITY_WARNING,
    "critical": common_pb2.SEVERITY_CRITICAL,
}


def alert_key(alert: Alert) -> str:
    """The Kafka key: the alert's series, else its service, else its fingerprint."""
    return alert.labels.get("series") or alert.labels.get("service") or alert.fingerprint


def alert_idempotency_key(alert: Alert) -> str:
    """Identity of one state of one alert: fingerprint + state + when it entered it."""
    return f"{alert.fingerprint}:{alert.state.value}:{alert.updated_at_ms}"


def notification_key(note: Notification) -> str:
    """Identity of a notification: receivers drop a key they have already seen.

    New notifications and updates are identified by the alert states they carry (a redelivery
    after a crash carries the same states); repeats also by the time they were sent.
    """
    parts = [note.group_key, note.reason, *sorted(alert_idempotency_key(a) for a in note.alerts)]
    if note.reason == "repeat":
        parts.append(str(note.ts_ms))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def to_alert_pb(alert: Alert) -> alert_pb2.Alert:
    annotations = dict(alert.annotations)
    if alert.inhibited:
        annotations["inhibited"] = "true"
    return alert_pb2.Alert(
        fingerprint=alert.fingerprint,
        name=alert.name,
        state=_STATE_TO_PB[alert.state],
        severity=_SEVERITY_TO_PB.get(alert.severity, common_pb2.SEVERITY_UNSPECIFIED),
        labels=alert.labels,
        annotations=annotations,
        starts_at_ms=alert.starts_at_ms,
        ends_at_ms=alert.ends_at_ms,
        updated_at_ms=alert.updated_at_ms,
        silenced=alert.silenced,
        acknowledged=alert.acknowledged,
        acknowledged_by=alert.acknowledged_by,
        occurrences=alert.occurrences,
    )


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "state": alert.state.value,
        "severity": alert.severity,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at_ms": alert.starts_at_ms,
        "ends_at_ms": alert.ends_at_ms,
        "updated_at_ms": alert.updated_at_ms,
        "occurrences": alert.occurrences,
        "silenced": alert.silenced,
        "inhibited": alert.inhibited,
        "acknowledged": alert.acknowledged,
        "acknowledged_by": alert.acknowledged_by,
        "idempotency_key": alert_idempotency_key(alert),
    }


def silence_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": dict(silence.matchers),
        "starts_at_ms": silence.starts_at_ms,
        "ends_at_ms": silence.ends_at_ms,
        "created_by": silence.created_by,
        "comment": silence.comment,
    }


def notification_json(note: Notification, receiver: str) -> dict[str, Any]:
    """The webhook body (close to Alertmanager's), with an idempotency key."""
    firing = any(a.state is AlertState.FIRING for a in note.alerts)
    return {
        "version": "1",
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "reason": note.reason,
        "group_key": note.group_key,
        "group_labels": dict(note.group_labels),
        "ts_ms": note.ts_ms,
        "idempotency_key": notification_key(note),
        "alerts": [alert_json(a) for a in note.alerts],
    }


def describe(alerts: Iterable[Alert]) -> str:
    """``FeedStuck{series=ALL/SYSTEM_DEMAND} firing, ...`` for logs."""
    return ", ".join(
        f"{a.name}{{{a.labels.get('series') or a.labels.get('service', '')}}} {a.state.value}"
        for a in alerts
    )
