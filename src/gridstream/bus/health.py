"""Truthful liveness and readiness of a runner."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class HealthSnapshot:
    alive: bool
    connected: bool
    assigned: bool
    progressing: bool
    detail: str

    @property
    def ready(self) -> bool:
        return self.alive and self.connected and self.assigned and self.progressing


class RunnerHealth:
    """Updated by the runner loop, read by the HTTP thread."""

    def __init__(self, stall_after_s: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._stall_after_s = stall_after_s
        self._started = False
        self._stopped = False
        self._connected = False
        self._assigned = 0
        self._last_loop = 0.0
        self._error = ""

    def started(self) -> None:
        with self._lock:
            self._started = True
            self._last_loop = time.monotonic()

    def stopped(self, error: str = "") -> None:
        with self._lock:
            self._stopped = True
            self._error = error

    def loop(self) -> None:
        with self._lock:
            self._last_loop = time.monotonic()

    def set_connected(self, connected: bool, error: str = "") -> None:
        with self._lock:
            self._connected = connected
            self._error = error

    def set_assigned(self, count: int) -> None:
        with self._lock:
            self._assigned = count

    def snapshot(self) -> HealthSnapshot:
        with self._lock:
            progressing = time.monotonic() - self._last_loop < self._stall_after_s
            alive = self._started and not self._stopped
            parts = []
            if not alive:
                parts.append("runner not running" + (f": {self._error}" if self._error else ""))
            if not self._connected:
                parts.append("not connected to Kafka" + (f": {self._error}" if self._error else ""))
            if not self._assigned:
                parts.append("no partitions assigned")
            if not progressing:
                parts.append(f"loop stalled for more than {self._stall_after_s:.0f}s")
            return HealthSnapshot(
                alive,
                self._connected,
                self._assigned > 0,
                progressing,
                "; ".join(parts) or "ok",
            )
