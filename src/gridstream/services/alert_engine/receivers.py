"""Notification receivers besides the topic: the log and webhooks.

Each webhook has its own bounded queue and delivery thread, so a slow or failing endpoint
never blocks another receiver or the Kafka loop (``submit`` never waits). Delivery is
at-least-once: an HTTP POST of JSON with an ``Idempotency-Key`` header (also in the body),
retried with exponential backoff on connection errors, timeouts, 5xx, 408 and 429; other
4xx answers are permanent failures. The receiver drops keys it has already delivered, and
an endpoint that sees a key twice (after a crash before the Kafka commit) should ignore it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from prometheus_client import CollectorRegistry, Counter

from gridstream.core.alerts.model import Notification
from gridstream.services.alert_engine.records import describe, notification_json, notification_key

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 429}
_SEEN_KEYS = 10_000


class Receiver(Protocol):
    name: str

    def submit(self, note: Notification) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class LogReceiver:
    """Writes every notification to the service log (structured JSON in services)."""

    name = "log"

    def submit(self, note: Notification) -> None:
        firing = [a for a in note.alerts if a.state.value == "firing"]
        level = logging.WARNING if firing else logging.INFO
        log.log(level, "alert notification (%s): %s", note.reason, describe(note.alerts))

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


@dataclass(frozen=True)
class WebhookPolicy:
    timeout_s: float = 5.0
    max_attempts: int = 6
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    queue_size: int = 10_000


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    attempts: int = 0
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)


class WebhookReceiver:
    """POSTs notifications to one URL from its own thread."""

    def __init__(
        self,
        url: str,
        policy: WebhookPolicy | None = None,
        name: str | None = None,
        metrics: Counter | None = None,
    ) -> None:
        self.url = url
        self.name = name or url
        self.policy = policy or WebhookPolicy()
        self.stats = DeliveryStats()
        self._metrics = metrics
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(self.policy.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, note: Notification) -> None:
        body = notification_json(note, self.name)
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.stats.dropped += 1
            self._count("dropped")
            log.error("webhook %s queue full: notification %s dropped", self.name, body["reason"])

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"webhook-{self.name}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):  # else it wakes on the next item, sees the flag
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def drain(self, timeout_s: float) -> bool:
        """Wait until the queue is empty (tests, shutdown); True if it emptied in time."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout_s)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.labels(self.name, outcome).inc()

    def _run(self) -> None:
        with httpx.Client(timeout=self.policy.timeout_s) as client:
            while not self._stop.is_set():
                body = self._queue.get()
                try:
                    if body is not None:
                        self._deliver(client, body)
                finally:
                    self._queue.task_done()

    def _deliver(self, client: httpx.Client, body: dict[str, Any]) -> None:
        key = str(body["idempotency_key"])
        if key in self.stats.seen:
            return
        delay = self.policy.backoff_s
        for attempt in range(1, self.policy.max_attempts + 1):
            self.stats.attempts += 1
            outcome = self._post(client, body, key)
            if outcome == "ok":
                self.stats.delivered += 1
                self.stats.seen[key] = None
                while len(self.stats.seen) > _SEEN_KEYS:
                    self.stats.seen.popitem(last=False)
                self._count("delivered")
                return
            if outcome == "permanent" or attempt == self.policy.max_attempts:
                break
            log.warning(
                "webhook %s attempt %d failed (%s); retrying in %.1fs",
                self.name,
                attempt,
                outcome,
                delay,
            )
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.policy.backoff_max_s)
        self.stats.failed += 1
        self._count("failed")
        log.error("webhook %s: notification %s not delivered", self.name, key)

    def _post(self, client: httpx.Client, body: dict[str, Any], key: str) -> str:
        try:
            response = client.post(self.url, json=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            return f"error {type(exc).__name__}"
        if response.is_success:
            return "ok"
        if response.status_code >= 500 or response.status_code in _RETRY_STATUS:
            return f"HTTP {response.status_code}"
        log.error("webhook %s refused the notification: HTTP %d", self.name, response.status_code)
        return "permanent"


class ReceiverHub:
    """Fans notifications out to every receiver; the topic is written by the processor."""

    def __init__(self, receivers: list[Receiver]) -> None:
        self.receivers = receivers

    @classmethod
    def from_urls(
        cls,
        urls: list[str],
        policy: WebhookPolicy | None = None,
        registry: CollectorRegistry | None = None,
    ) -> ReceiverHub:
        metrics = (
            Counter(
                "gridstream_alert_webhook_deliveries",
                "Webhook notifications by receiver and outcome",
                ["receiver", "outcome"],
                registry=registry,
            )
            if registry is not None
            else None
        )
        hooks: list[Receiver] = [WebhookReceiver(u, policy, metrics=metrics) for u in urls]
        return cls([LogReceiver(), *hooks])

    def notify(self, note: Notification) -> None:
        for receiver in self.receivers:
            try:
                receiver.submit(note)
            except Exception:  # one receiver's bug must not stop the others
                log.exception("receiver %s failed on %s", receiver.name, notification_key(note))

    def start(self) -> None:
        for receiver in self.receivers:
            receiver.start()

    def stop(self) -> None:
        for receiver in self.receivers:
            receiver.stop()
