"""smart-grid-rebalancer on a real broker: proposals with evidence, token-protected approval
and rejection (idempotent), the audit trail surviving a restart, stuck-feed holds, modes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gridstream.bus.admin import Admin
from gridstream.bus.alert_feed import alert_feed_topic, watermark
from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.topics import TopicNames, TopicSpec, topic_specs
from gridstream.config import Settings
from gridstream.http.app import create_app
from gridstream.schemas import rebalance_pb2
from gridstream.schemas.alert_pb2 import ALERT_STATE_FIRING, Alert
from gridstream.schemas.anomaly_pb2 import Anomaly
from gridstream.schemas.forecast_pb2 import Forecast, ForecastStep
from gridstream.schemas.rebalance_pb2 import RebalanceAction
from gridstream.schemas.storage_pb2 import StorageSchedule, StorageStep
from gridstream.services.grid_rebalancer.service import RebalancerSettings, build
from gridstream.services.host import ServiceParts

pytestmark = pytest.mark.integration
T0 = 1_656_633_600_000
STEP = 900_000
TOKEN = "rebalance-test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def demand_forecast(issue: int, peak: float) -> Forecast:
    msg = Forecast(
        forecast_id=f"ALL/SYSTEM_DEMAND@{issue}",
        series_id="ALL/SYSTEM_DEMAND",
        region="ALL",
        field="SYSTEM_DEMAND",
        issue_time_ms=issue,
        model_version="demand-v7",
        unit="MW",
    )
    for k, v in enumerate(np.full(96, peak), start=1):
        msg.steps.append(
            ForecastStep(target_time_ms=issue + k * STEP, p10=v - 100, p50=v - 50, p90=v)
        )
    return msg


def snsp_forecast(issue: int, percent: float) -> Forecast:
    """The forecaster's all-island SNSP forecast (it is published for ALL only, in %)."""
    msg = Forecast(
        forecast_id=f"ALL/SNSP_ALL@{issue}",
        series_id="ALL/SNSP_ALL",
        region="ALL",
        field="SNSP_ALL",
        issue_time_ms=issue,
        model_version="seasonal-naive",
        unit="%",
    )
    for k in range(1, 97):
        msg.steps.append(
            ForecastStep(
                target_time_ms=issue + k * STEP, p10=percent - 5, p50=percent, p90=percent + 5
            )
        )
    return msg


def verdict(ts: int, value: float) -> Anomaly:
    """The anomaly detector's verdict on the demand reading at ``ts`` (one per reading)."""
    return Anomaly(
        record_id=f"ALL/SYSTEM_DEMAND@{ts}",
        series_id="ALL/SYSTEM_DEMAND",
        region="ALL",
        field="SYSTEM_DEMAND",
        ts_ms=ts,
        value=value,
        is_anomaly=False,
        label="normal",
    )


def send_origin(
    producer: MessageProducer, topics: TopicNames, t: int, peak: float, net_mw: float
) -> None:
    """What the pipeline publishes for origin ``t``: the forecasts, the storage schedule, the
    demand verdict of ``t`` and the alert engine's feed watermark of the demand series at
    ``t`` (the rebalancer decides ``t`` once it has all of them)."""
    producer.send(topics.forecasts, "ALL/SYSTEM_DEMAND", demand_forecast(t, peak))
    producer.send(topics.forecasts, "ALL/SNSP_ALL", snsp_forecast(t, 30.0))
    producer.send(topics.storage, "ALL", schedule(t, net_mw))
    producer.send(topics.anomalies, "ALL/SYSTEM_DEMAND", verdict(t, peak - 400))
    producer.send(alert_feed_topic(topics), "ALL", watermark("ALL/SYSTEM_DEMAND", t))
    producer.flush()


def schedule(issue: int, net_mw: float) -> StorageSchedule:
    msg = StorageSchedule(schedule_id=f"ALL@{issue}", region="ALL", issue_time_ms=issue)
    for k in range(1, 97):
        msg.steps.append(
            StorageStep(
                ts_ms=issue + k * STEP,
                discharge_mw=max(net_mw, 0.0),
                charge_mw=max(-net_mw, 0.0),
                soc_mwh=500.0,
            )
        )
    return msg


class Receiver:
    """A real local HTTP server standing in for the external control system."""

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, Any]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.headers["Idempotency-Key"], json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/actions"

    def close(self) -> None:
        self.server.shutdown()


class Service:
    def __init__(self, settings: Settings, own: RebalancerSettings, name: str) -> None:
        self.parts: ServiceParts = build(settings, own, name)
        self.thread = threading.Thread(target=self.parts.worker.run, daemon=True)
        self.thread.start()
        p = self.parts
        self.client = TestClient(create_app(p.name, p.health, p.registry, p.routers))

    def stop(self) -> None:
        self.parts.worker.stop()
        self.thread.join(30)


def records(settings: Settings, at_least: int, timeout: float = 60.0) -> list[RebalanceAction]:
    deadline = time.monotonic() + timeout
    while True:
        found = [
            r.value
            for r in read_topic(
                settings.kafka("test-reader"), settings.topics.rebalance, RebalanceAction
            )
        ]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def call(client: TestClient, path: str, timeout: float = 30.0, **kw: Any) -> Any:
    """POST, retrying while the worker has not started (503 before it is assigned)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.post(path, **kw)
        if resp.status_code != 503 or time.monotonic() > deadline:
            return resp
        time.sleep(0.5)


def test_proposals_approval_audit_and_restart(
    kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    settings = Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("rebal") + "-"),
        state_dir=tmp_path,
        topic_partitions=2,
        control_token=SecretStr(TOKEN),
    )
    receiver = Receiver()
    own = RebalancerSettings(
        demand_response_threshold_mw=5000.0,
        webhook_url=receiver.url,
        alert_fields="SYSTEM_DEMAND",
    )
    name = unique("smart-grid-rebalancer")
    feed = TopicSpec(alert_feed_topic(settings.topics), 2, 1)
    Admin(settings.kafka("test-admin")).ensure_topics([*topic_specs(settings.topics, 2, 1), feed])
    producer = MessageProducer(settings.kafka("test-producer"))
    send_origin(producer, settings.topics, T0, 5200.0, 200.0)

    service = Service(settings, own, name)
    try:
        proposed = records(settings, 4)
        kinds = {rebalance_pb2.ActionKind.Name(r.kind): r for r in proposed}
        assert set(kinds) == {
            "ACTION_KIND_STORAGE_DISCHARGE",
            "ACTION_KIND_DEMAND_RESPONSE",
            "ACTION_KIND_INTERCONNECTOR_IMPORT",
        }
        assert all(r.approval == rebalance_pb2.APPROVAL_STATE_PROPOSED for r in proposed)
        assert all(r.mode == "advisory" and r.policy_version and r.target for r in proposed)
        dr = kinds["ACTION_KIND_DEMAND_RESPONSE"]
        assert dr.magnitude_mw == pytest.approx(200.0)  # P90 peak 5200 - threshold 5000
        assert f"ALL/SYSTEM_DEMAND@{T0}" in dr.evidence and "demand-v7" in dr.evidence
        assert 0 < dr.confidence <= 1
        storage = kinds["ACTION_KIND_STORAGE_DISCHARGE"]
        assert storage.evidence == [f"ALL@{T0}"] and storage.magnitude_mw == pytest.approx(200.0)

        client = service.client
        listed = client.get("/actions", params={"state": "proposed"}).json()
        assert {a["action_id"] for a in listed} == {r.action_id for r in proposed}

        # every control endpoint refuses a missing or wrong token
        for path in (f"/actions/{dr.action_id}/approve", f"/actions/{dr.action_id}/reject"):
            assert client.post(path).status_code == 401
            assert client.post(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert client.post("/mode", json={"mode": "automatic"}).status_code == 401

        ok = call(client, f"/actions/{dr.action_id}/approve", headers=AUTH, json={"by": "alice"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["approval"] == "executed"
        assert any("approved by operator:alice" in h for h in ok.json()["history"])
        again = call(client, f"/actions/{dr.action_id}/approve", headers=AUTH)
        assert again.status_code == 200 and again.json()["approval"] == "executed"  # idempotent

        rej = call(client, f"/actions/{storage.action_id}/reject", headers=AUTH)
        assert rej.status_code == 200 and rej.json()["approval"] == "rejected"
        late = call(client, f"/actions/{storage.action_id}/approve", headers=AUTH)
        assert late.status_code == 409
        assert call(client, "/actions/nope/approve", headers=AUTH).status_code == 404

        trail = records(settings, 7)
        time.sleep(2.0)
        trail = records(settings, 7)
        assert len(trail) == 7  # 4 decided + approved + executed + rejected; repeats add none
        states = [
            rebalance_pb2.ApprovalState.Name(r.approval)
            for r in trail
            if r.action_id == dr.action_id
        ]
        assert states == [
            "APPROVAL_STATE_PROPOSED",
            "APPROVAL_STATE_APPROVED",
            "APPROVAL_STATE_EXECUTED",
        ]
        assert len(client.get("/audit").json()) == 7
        # the executed action was forwarded to the control system's webhook, once
        assert [(k, b["action_id"]) for k, b in receiver.received] == [
            (f"{dr.action_id}:executed", dr.action_id)
        ]
    finally:
        service.stop()
        receiver.close()

    # a new process rebuilds the ledger from the topic: same states, same trail
    service = Service(settings, own, name)
    try:
        client = service.client
        deadline = time.monotonic() + 60
        while len(client.get("/audit").json()) < 7 and time.monotonic() < deadline:
            time.sleep(0.5)
        by_id = {a["action_id"]: a for a in client.get("/actions").json()}
        assert by_id[dr.action_id]["approval"] == "executed"
        assert by_id[storage.action_id]["approval"] == "rejected"
        assert len(by_id[dr.action_id]["history"]) == 3
        assert (
            call(client, f"/actions/{storage.action_id}/approve", headers=AUTH).status_code == 409
        )

        # a stuck demand feed: hold, and no demand response on that series
        t1 = T0 + 3_600_000
        alert = Alert(
            fingerprint="fp-stuck",
            name="FeedStuck",
            state=ALERT_STATE_FIRING,
            starts_at_ms=t1 - STEP,
            updated_at_ms=t1 - STEP,
        )
        alert.labels.update(
            {"series": "ALL/SYSTEM_DEMAND", "region": "ALL", "field": "SYSTEM_DEMAND"}
        )
        # origin t1 without its demand verdict and alert watermark yet: the join waits
        producer.send(settings.topics.forecasts, "ALL/SYSTEM_DEMAND", demand_forecast(t1, 5600.0))
        producer.send(settings.topics.forecasts, "ALL/SNSP_ALL", snsp_forecast(t1, 30.0))
        producer.send(settings.topics.storage, "ALL", schedule(t1, 200.0))
        producer.flush()
        assert len(records(settings, 8, timeout=5.0)) == 7, "decided without the verdict of t1"
        producer.send(settings.topics.anomalies, "ALL/SYSTEM_DEMAND", verdict(t1, 5200.0))
        producer.flush()
        assert len(records(settings, 8, timeout=5.0)) == 7, "decided without the alerts of t1"
        # the alert engine's feed: the alert, then the watermark that says t1 is complete
        feed = alert_feed_topic(settings.topics)
        producer.send(feed, "ALL", alert)
        producer.send(feed, "ALL", watermark("ALL/SYSTEM_DEMAND", t1))
        producer.flush()
        trail = records(settings, 9)
        new = {rebalance_pb2.ActionKind.Name(r.kind): r for r in trail[7:]}
        # the schedule still dispatches storage; demand response waits for a trusted feed
        assert set(new) == {"ACTION_KIND_HOLD", "ACTION_KIND_STORAGE_DISCHARGE"}
        assert new["ACTION_KIND_HOLD"].evidence == ["fp-stuck"]
        assert new["ACTION_KIND_HOLD"].target == "ALL/demand"
        assert all(r.created_at_ms == t1 and "[" not in r.reason for r in trail[7:])

        # automatic mode: decisions are executed at once
        resp = call(client, "/mode", headers=AUTH, json={"mode": "automatic", "by": "bob"})
        assert resp.status_code == 200 and client.get("/mode").json() == {"mode": "automatic"}
        send_origin(producer, settings.topics, T0 + 7_200_000, 5600.0, -150.0)
        trail = records(settings, 11)
        [auto] = [r for r in trail[9:] if r.kind == rebalance_pb2.ACTION_KIND_STORAGE_CHARGE]
        assert auto.magnitude_mw == pytest.approx(150.0)
        assert auto.approval == rebalance_pb2.APPROVAL_STATE_EXECUTED and auto.mode == "automatic"
    finally:
        service.stop()
