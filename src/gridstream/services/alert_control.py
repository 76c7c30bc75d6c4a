"""Between the HTTP thread and the alert worker: operator commands in, snapshots out.

Alert engines belong to the worker thread (they change inside Kafka transactions), so the
API never touches them: it submits a command that the worker runs at its next tick (within
about a second) and waits for the result; it reads alerts and silences from the snapshot the
worker publishes after every tick.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from gridstream.core.alerts.model import Alert, Silence
from gridstream.errors import GridstreamError

Command = Callable[[], Any]


class WorkerUnavailable(GridstreamError):
    """The alert worker did not run the command in time (starting, or not assigned)."""


class AlertControl:
    def __init__(self) -> None:
        self._commands: queue.Queue[tuple[Command, Future[Any]]] = queue.Queue()
        self._lock = threading.Lock()
        self._alerts: list[Alert] = []
        self._silences: dict[str, Silence] = {}

    # ---- HTTP side -------------------------------------------------------------------------
    def call(self, command: Command, timeout_s: float = 10.0) -> Any:
        """Run ``command`` on the worker thread and return its result (or raise its error)."""
        future: Future[Any] = Future()
        self._commands.put((command, future))
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            future.cancel()
            raise WorkerUnavailable(
                "the alert worker did not answer in time: check /ready and retry"
            ) from None

    def alerts(self) -> list[Alert]:
        with self._lock:
            return list(self._alerts)

    def silences(self) -> list[Silence]:
        with self._lock:
            return sorted(self._silences.values(), key=lambda s: (s.starts_at_ms, s.id))

    # ---- worker side -----------------------------------------------------------------------
    def run_pending(self) -> None:
        """Run every queued command (on the worker thread)."""
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(command())
            except Exception as exc:  # the caller gets the error
                future.set_exception(exc)

    def publish(self, alerts: Iterable[Alert], silences: Iterable[Silence]) -> None:
        snapshot = [dataclasses.replace(a) for a in alerts]
        by_id = {s.id: dataclasses.replace(s) for s in silences}
        with self._lock:
            self._alerts, self._silences = snapshot, by_id
