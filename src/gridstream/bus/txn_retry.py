"""Retrying transactional producer calls across broker outages.

librdkafka marks an error of ``send_offsets_to_transaction``, ``commit_transaction`` or
``abort_transaction`` as *retriable* when the call may simply be repeated (the coordinator
is unreachable, the request timed out): the transaction is still intact. :func:`guarded`
repeats such calls with exponential backoff within the call's :class:`Limits`; errors that
need an abort, fatal errors and a stop request are raised to the caller.

:func:`bounded` guards against calls that ignore their own timeout: librdkafka's
``send_offsets_to_transaction`` can block for ever when the group coordinator went away
(confluentinc/librdkafka#5456 and #5511, open in 2.16). The call runs in a helper thread;
if it has not returned well after its timeout, :class:`StuckClient` is raised and the
caller abandons that client and builds a new one (the new transactional producer fences the
old one, whose open transaction the broker aborts). A call that keeps failing retriably
until its patience runs out is treated the same way."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import KafkaException

from gridstream.errors import BrokerError

log = logging.getLogger(__name__)

R = TypeVar("R")

PATIENCE_S = 300.0
GRACE_S = 10.0


@dataclass(frozen=True)
class Limits:
    """How long one transactional call may take: ``timeout_s`` per attempt (the call's own
    timeout, plus ``grace_s`` before it counts as stuck) and ``patience_s`` for retries."""

    timeout_s: float
    patience_s: float
    grace_s: float = 2.0


#: A healthy broker answers these calls in milliseconds (a commit flushes the batch first:
#: seconds at most under load). librdkafka (2.10 and later) drops a broker that a metadata
#: response leaves out, and a broker being restarted is left out; a client's coordinator or
#: partition leaders can then stay unknown for minutes (#5511): a ``send_offsets`` that never
#: returns, messages held until their 60 s timeout, then an abort that times out again and
#: again. A new client finds the coordinator at once. So the calls get short limits and the
#: caller builds new clients when they run out (safe at any point: the new producer fences
#: the old one and the broker completes or aborts its open transaction). Measured with
#: ``gridstream verify --broker-restart``: services lost 25 s to 6 minutes each before.
OFFSETS_LIMITS = Limits(timeout_s=5.0, patience_s=20.0)
COMMIT_LIMITS = Limits(timeout_s=10.0, patience_s=30.0)
ABORT_LIMITS = Limits(timeout_s=10.0, patience_s=20.0)


class StuckClient(BrokerError):
    """A Kafka client call did not return long after its own timeout."""


class _Helper:
    """A long-lived daemon thread that runs calls handed to it, one at a time."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="bounded-call", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.jobs.get()()


_helpers = threading.local()  # one helper per calling thread: runners never wait on each other


def bounded(call: Callable[[], R], timeout_s: float, what: str, grace_s: float = GRACE_S) -> R:
    """``call()`` in a helper thread; :class:`StuckClient` if it is still running after
    ``timeout_s`` (the call's own timeout) plus a grace period.

    The helper lives as long as the calling thread (two calls per transaction made a new
    thread each before); one that got stuck is abandoned with its call."""
    helper: _Helper | None = getattr(_helpers, "helper", None)
    if helper is None:
        helper = _helpers.helper = _Helper()
    box: dict[str, object] = {}
    done = threading.Event()

    def job() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    helper.jobs.put(job)
    if not done.wait(timeout_s + grace_s):
        _helpers.helper = None  # busy for ever with the stuck call: the next gets a new one
        raise StuckClient(f"{what} did not return within {timeout_s + grace_s:.0f}s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")  # type: ignore[return-value]


def retriable(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args else None
    return bool(err is not None and hasattr(err, "retriable") and err.retriable())


def guarded(call: Callable[[float], R], limits: Limits, what: str, stop: threading.Event) -> R:
    """``call(timeout)`` bounded and retried within ``limits``; :class:`StuckClient` when it
    does not return in time, or still fails retriably when the patience runs out (the client
    is wedged: build a new one)."""
    timeout = limits.timeout_s
    try:
        return with_retries(
            lambda: bounded(lambda: call(timeout), timeout, what, limits.grace_s),
            what,
            stop,
            limits.patience_s,
        )
    except KafkaException as exc:
        if retriable(exc) and not stop.is_set():
            raise StuckClient(f"{what} kept failing: {exc.args[0].str()}") from exc
        raise


def with_retries(
    call: Callable[[], R],
    what: str,
    stop: threading.Event | None = None,
    patience_s: float = PATIENCE_S,
) -> R:
    """``call()``, repeated while it fails with a retriable Kafka error (up to ``patience_s``)."""
    deadline = time.monotonic() + patience_s
    delay = 0.5
    while True:
        try:
            return call()
        except KafkaException as exc:
            if not retriable(exc) or time.monotonic() + delay > deadline:
                raise
            if stop is not None and stop.is_set():
                raise
            log.warning("%s failed (%s); retrying in %.1fs", what, exc.args[0].str(), delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
