"""The per-service HTTP app: truthful /health and /ready, /metrics, body limit, token guard."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr

from gridstream.bus.health import HealthSnapshot, RunnerHealth
from gridstream.http.app import MAX_BODY_BYTES, create_app
from gridstream.http.auth import token_guard

TOKEN = "a-long-enough-test-token"
DEFAULT_TOKEN = SecretStr(TOKEN)


def _client(health: RunnerHealth, token: SecretStr | None = DEFAULT_TOKEN) -> TestClient:
    registry = CollectorRegistry()
    Counter("gridstream_records_in_total", "x", ["service"], registry=registry).labels("s").inc(3)
    router = APIRouter()

    @router.post("/control", dependencies=[Depends(token_guard(token))])
    def control(body: dict[str, int]) -> dict[str, int]:
        return body

    return TestClient(create_app("svc", health.snapshot, registry, [router]))


def test_ready_follows_the_runner_state() -> None:
    health = RunnerHealth(stall_after_s=30)
    client = _client(health)
    assert client.get("/health").status_code == 503  # not started
    health.started()
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "not connected" in ready.json()["detail"]
    health.set_connected(True)
    assert "no partitions assigned" in client.get("/ready").json()["detail"]
    health.set_assigned(2)
    body = client.get("/ready").json()
    assert body["ready"] is True and body["detail"] == "ok"
    health.set_connected(False, "broker down")
    assert client.get("/ready").status_code == 503
    health.stopped("crashed")
    assert client.get("/health").status_code == 503


def test_stalled_loop_is_not_ready() -> None:
    health = RunnerHealth(stall_after_s=0.0)
    health.started()
    health.set_connected(True)
    health.set_assigned(1)
    snap: HealthSnapshot = health.snapshot()
    assert not snap.progressing and not snap.ready and "stalled" in snap.detail


def test_metrics_are_prometheus_text() -> None:
    text = _client(RunnerHealth()).get("/metrics").text
    assert 'gridstream_records_in_total{service="s"} 3.0' in text


def test_oversized_body_is_rejected_with_413() -> None:
    client = _client(RunnerHealth())
    resp = client.post(
        "/control",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    assert resp.status_code == 413 and "larger than" in resp.json()["detail"]


def test_control_endpoint_needs_the_right_token() -> None:
    client = _client(RunnerHealth())
    assert client.post("/control", json={"a": 1}).status_code == 401
    wrong = client.post("/control", json={"a": 1}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    ok = client.post("/control", json={"a": 1}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json() == {"a": 1}
    assert TOKEN not in wrong.text


def test_control_endpoints_are_closed_without_a_configured_token() -> None:
    client = _client(RunnerHealth(), token=None)
    resp = client.post("/control", json={"a": 1}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 503 and "GRIDSTREAM_CONTROL_TOKEN" in resp.json()["detail"]
