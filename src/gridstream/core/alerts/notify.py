"""When a notification group is due: group_wait, group_interval, repeat_interval."""

from __future__ import annotations

import dataclasses

from gridstream.core.alerts.model import Alert, AlertState, Group, Notification, fingerprint
from gridstream.core.alerts.rules import Route


def _group_of(alert: Alert, route: Route) -> tuple[str, dict[str, str]]:
    labels = {k: alert.labels.get(k, "") for k in route.group_by}
    return fingerprint(labels), labels


def due_notifications(
    alerts: dict[str, Alert], groups: dict[str, Group], route: Route, now: int
) -> list[Notification]:
    """Notifications due at ``now``; updates each group's record of what it sent.

    A group's first notification waits ``group_wait`` after its first firing alert (to batch
    alerts that start together); changes (new firing alerts, resolutions) go out at most
    every ``group_interval``; an unchanged group with unacknowledged firing alerts repeats
    every ``repeat_interval``. Silenced or inhibited alerts are left out.
    """
    members: dict[str, list[Alert]] = {}
    for alert in alerts.values():
        if alert.state is AlertState.PENDING or alert.suppressed:
            continue
        key, labels = _group_of(alert, route)
        group = groups.get(key)
        if group is None:
            if alert.state is not AlertState.FIRING:
                continue
            group = groups[key] = Group(key, labels, first_seen_ms=now)
        if alert.state is AlertState.RESOLVED and alert.fingerprint not in group.notified:
            continue  # resolved before anyone heard of it
        members.setdefault(key, []).append(alert)
    out: list[Notification] = []
    for key, group in list(groups.items()):
        current = {a.fingerprint: a.state.value for a in members.get(key, [])}
        if not current:
            if group.last_notified_ms < 0 or not group.notified:
                del groups[key]
            continue
        firing = [a for a in members[key] if a.state is AlertState.FIRING]
        if group.last_notified_ms < 0:
            due = bool(firing) and now - group.first_seen_ms >= route.group_wait_ms
            reason = "new"
        elif current != group.notified:
            due = now - group.last_notified_ms >= route.group_interval_ms
            reason = "update"
        else:
            due = any(not a.acknowledged for a in firing) and (
                now - group.last_notified_ms >= route.repeat_interval_ms
            )
            reason = "repeat"
        if not due:
            continue
        snapshot = tuple(dataclasses.replace(a) for a in members[key])
        out.append(Notification(key, dict(group.labels), reason, now, snapshot))
        group.last_notified_ms = now
        group.notified = {fp: st for fp, st in current.items() if st == AlertState.FIRING.value}
        if not group.notified:
            del groups[key]
    return out
