"""Between the HTTP thread and the alert worker: operator commands in, snapshots out.

Alert engines belong to the worker thread (they change inside Kafka transactions), so the
API never touches them: it submits a command that the worker runs at its next tick (within
about a second) and waits for the result; it reads alerts and silences from the snapshot the
worker publishes after every tick.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

from gridstream.bus.command_queue import CommandQueue, WorkerUnavailable
from gridstream.core.alerts.model import Alert, Silence

__all__ = ["AlertControl", "WorkerUnavailable"]


class AlertControl(CommandQueue):
    def __init__(self) -> None:
        super().__init__(worker="alert worker", timeout_s=10.0)
        self._lock = threading.Lock()
        self._alerts: list[Alert] = []
        self._silences: dict[str, Silence] = {}

    # ---- HTTP side: call(), and the snapshot readers ---------------------------------------
    def alerts(self) -> list[Alert]:
        with self._lock:
            return list(self._alerts)

    def silences(self) -> list[Silence]:
        with self._lock:
            return sorted(self._silences.values(), key=lambda s: (s.starts_at_ms, s.id))

    # ---- worker side: run_pending(), and publishing the snapshot -------------------------
    def publish(self, alerts: Iterable[Alert], silences: Iterable[Silence]) -> None:
        snapshot = [dataclasses.replace(a) for a in alerts]
        by_id = {s.id: dataclasses.replace(s) for s in silences}
        with self._lock:
            self._alerts, self._silences = snapshot, by_id
