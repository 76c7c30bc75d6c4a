"""Forwarding executed actions to an external control system (optional webhook).

A bounded queue and one delivery thread, so a slow endpoint never blocks the Kafka loop.
At-least-once: JSON POST with an ``Idempotency-Key`` header (``{action_id}:executed``),
retried with backoff on connection errors, timeouts and 5xx/408/429; the receiver should
ignore a key it has already seen (a crash before the Kafka commit can resend one).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import httpx

log = logging.getLogger(__name__)
RETRY_STATUS = {408, 429}


class ActionWebhook:
    def __init__(
        self, url: str, attempts: int = 5, backoff_s: float = 0.5, timeout_s: float = 5.0
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def submit(self, action: dict[str, Any]) -> None:
        """Queue one executed action (never blocks; a full queue drops with an error log)."""
        self._ensure_started()
        try:
            self._queue.put_nowait(action)
        except queue.Full:
            self.failed += 1
            log.error("webhook queue full: executed action %s not forwarded", action["action_id"])

    def _ensure_started(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="action-webhook", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                action = self._queue.get()
                if action is None:
                    return
                self._deliver(client, action)

    def _deliver(self, client: httpx.Client, action: dict[str, Any]) -> None:
        key = f"{action['action_id']}:executed"
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                resp = client.post(self.url, json=action, headers={"Idempotency-Key": key})
                if resp.status_code < 300:
                    self.delivered += 1
                    return
                if resp.status_code < 500 and resp.status_code not in RETRY_STATUS:
                    log.error("webhook refused action %s: HTTP %d", key, resp.status_code)
                    self.failed += 1
                    return
                reason = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
            log.warning("webhook attempt %d for %s failed: %s", attempt, key, reason)
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 30.0)
        self.failed += 1
        log.error("webhook gave up on action %s after %d attempts", key, self.attempts)
