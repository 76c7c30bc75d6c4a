"""Operator commands from HTTP threads, run on a service's Kafka worker thread.

State that changes inside Kafka transactions belongs to the worker thread, so an HTTP handler
never touches it: it queues a command, the worker runs every queued command at its next tick
(about once a second) and the handler waits for the result or the command's exception.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from gridstream.errors import GridstreamError

Command = Callable[[], Any]


class WorkerUnavailable(GridstreamError):
    """The worker did not run the command in time (starting, or not assigned)."""


class CommandQueue:
    """Commands queued by HTTP threads for one worker thread.

    ``worker`` names the worker in the timeout message; ``timeout_s`` is how long
    :meth:`call` waits by default.
    """

    def __init__(self, worker: str, timeout_s: float) -> None:
        self._worker = worker
        self._timeout_s = timeout_s
        self._commands: queue.Queue[tuple[Command, Future[Any]]] = queue.Queue()

    def call(self, command: Command, timeout_s: float | None = None) -> Any:
        """Run ``command`` on the worker thread; its result, or its exception re-raised."""
        future: Future[Any] = Future()
        self._commands.put((command, future))
        try:
            return future.result(timeout=self._timeout_s if timeout_s is None else timeout_s)
        except TimeoutError:
            if future.cancel():
                raise WorkerUnavailable(
                    f"the {self._worker} did not answer in time: check /ready and retry"
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
