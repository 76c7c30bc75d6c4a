"""Webhook receivers against REAL local HTTP servers: retries with backoff, isolation, keys."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gridstream.core.alerts.model import Alert, AlertState, Notification
from gridstream.services.alert_engine.receivers import ReceiverHub, WebhookPolicy, WebhookReceiver

pytestmark = pytest.mark.integration


class Endpoint:
    """A local HTTP server answering with a scripted list of status codes (then the last)."""

    def __init__(self, statuses: list[int], delay_s: float = 0.0) -> None:
        self.statuses = statuses
        self.delay_s = delay_s
        self.requests: list[tuple[float, str, dict[str, object]]] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint.lock:
                    n = len(endpoint.requests)
                    endpoint.requests.append(
                        (time.monotonic(), self.headers.get("Idempotency-Key", ""), body)
                    )
                    code = endpoint.statuses[min(n, len(endpoint.statuses) - 1)]
                time.sleep(endpoint.delay_s)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoints() -> Iterator[list[Endpoint]]:
    made: list[Endpoint] = []
    yield made
    for e in made:
        e.close()


def _note(state: AlertState = AlertState.FIRING, ts: int = 1_000) -> Notification:
    alert = Alert(
        fingerprint="abc123",
        name="FeedStuck",
        labels={"alertname": "FeedStuck", "series": "ALL/SYSTEM_DEMAND"},
        severity="critical",
        state=state,
        starts_at_ms=ts,
        last_seen_ms=ts,
        updated_at_ms=ts,
        annotations={"summary": "demand stuck at 4,708 MW for 2 h"},
    )
    return Notification("g1", {"alertname": "FeedStuck"}, "new", ts, (alert,))


def _wait(cond, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


FAST = WebhookPolicy(timeout_s=2.0, max_attempts=5, backoff_s=0.1, backoff_max_s=1.0)


def test_retries_with_backoff_until_the_endpoint_accepts(endpoints: list[Endpoint]) -> None:
    flaky = Endpoint([503, 500, 200])
    endpoints.append(flaky)
    hook = WebhookReceiver(flaky.url, FAST)
    hook.start()
    try:
        hook.submit(_note())
        assert _wait(lambda: hook.stats.delivered == 1)
    finally:
        hook.stop()
    assert len(flaky.requests) == 3
    times = [t for t, _, _ in flaky.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19, gaps  # exponential: 0.1 s then 0.2 s
    keys = {k for _, k, _ in flaky.requests}
    assert len(keys) == 1 and keys.pop() == flaky.requests[0][2]["idempotency_key"]
    body = flaky.requests[-1][2]
    assert body["status"] == "firing" and body["alerts"][0]["name"] == "FeedStuck"  # type: ignore[index]
    assert body["alerts"][0]["idempotency_key"] == "abc123:firing:1000"  # type: ignore[index]


def test_a_failing_receiver_does_not_block_the_others(endpoints: list[Endpoint]) -> None:
    broken = Endpoint([500], delay_s=0.3)  # slow AND failing
    good = Endpoint([200])
    endpoints.extend([broken, good])
    # the broken endpoint's first notification alone keeps its thread busy for ~8 s
    policy = WebhookPolicy(timeout_s=2.0, max_attempts=4, backoff_s=1.0, backoff_max_s=4.0)
    hub = ReceiverHub.from_urls([broken.url, good.url], policy)
    hooks = [r for r in hub.receivers if isinstance(r, WebhookReceiver)]
    hub.start()
    try:
        started = time.monotonic()
        for i in range(5):
            hub.notify(_note(ts=1_000 + i))  # never blocks the caller
        assert time.monotonic() - started < 0.5
        assert _wait(lambda: len(good.requests) == 5, 6.0)
        # ...and meanwhile the broken endpoint is still retrying its FIRST notification
        assert hooks[0].stats.failed == 0 and hooks[0].stats.delivered == 0
        assert 1 <= len(broken.requests) < 4
        assert {b["ts_ms"] for _, _, b in broken.requests} == {1_000}
    finally:
        hub.stop()
    hooks = [r for r in hub.receivers if isinstance(r, WebhookReceiver)]
    assert hooks[1].stats.delivered == 5 and hooks[1].stats.failed == 0


def test_permanent_refusal_is_not_retried_and_duplicates_are_dropped(
    endpoints: list[Endpoint],
) -> None:
    refusing = Endpoint([400])
    accepting = Endpoint([200])
    endpoints.extend([refusing, accepting])
    bad, ok = WebhookReceiver(refusing.url, FAST), WebhookReceiver(accepting.url, FAST)
    for r in (bad, ok):
        r.start()
    try:
        bad.submit(_note())
        for _ in range(3):
            ok.submit(_note())  # the same notification again (a redelivery)
        ok.submit(_note(AlertState.RESOLVED, ts=2_000))
        assert _wait(lambda: bad.stats.failed == 1 and ok.drain(0.1) and ok.stats.delivered == 2)
    finally:
        bad.stop()
        ok.stop()
    assert len(refusing.requests) == 1
    assert [b["status"] for _, _, b in accepting.requests] == ["firing", "resolved"]
