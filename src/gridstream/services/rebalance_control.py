"""Operator commands from HTTP threads, run on the rebalancer's Kafka loop.

The ledger changes only on the worker thread, inside its Kafka transaction: an approval,
rejection or mode change is queued here, drained by ``punctuate`` (about once a second) and
its records are published in that transaction. The HTTP thread waits for the result.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from gridstream.errors import GridstreamError

Command = Callable[[], Any]


class WorkerUnavailable(GridstreamError):
    """The rebalancer worker did not run the command in time (starting, or not assigned)."""


class CommandQueue:
    def __init__(self) -> None:
        self._commands: queue.Queue[tuple[Command, Future[Any]]] = queue.Queue()

    def call(self, command: Command, timeout_s: float = 15.0) -> Any:
        """Run ``command`` on the worker thread; its result, or its exception re-raised."""
        future: Future[Any] = Future()
        self._commands.put((command, future))
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            if future.cancel():
                raise WorkerUnavailable(
                    "the rebalancer worker did not answer in time: check /ready and retry"
                ) from None
            return future.result()  # it started just now: wait for it to finish

    def run_pending(self) -> None:
        """Run every queued command (worker thread only)."""
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(command())
            except Exception as exc:  # the HTTP caller gets the error
                future.set_exception(exc)
