"""The alert engine's HTTP API and processor, driven without Kafka (the worker is a thread
that ticks the processor the way the runner does)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from google.protobuf.message import Message
from pydantic import SecretStr

from gridstream.bus.processor import InRecord, OutRecord
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.core.alerts.engine import AlertEngine
from gridstream.schemas import anomaly_pb2, common_pb2
from gridstream.services.alert_engine.api import alerts_router
from gridstream.services.alert_engine.receivers import ReceiverHub
from gridstream.services.alert_engine.rules import DEFAULT_RULES_FILE, RulesHolder
from gridstream.services.alert_engine.service import ENGINE_KEY, AlertEngineProcessor

TOKEN = "a-long-enough-control-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_599_681_600_000  # 2020-09-09 20:00 UTC
DEMAND = "ALL/SYSTEM_DEMAND"


def _stuck_anomaly(ts: int) -> anomaly_pb2.Anomaly:
    return anomaly_pb2.Anomaly(
        record_id=f"{DEMAND}@{ts}",
        series_id=DEMAND,
        region="ALL",
        field="SYSTEM_DEMAND",
        ts_ms=ts,
        value=4708.0,
        score=1.0,
        is_anomaly=True,
        label="stuck",
        severity=common_pb2.SEVERITY_CRITICAL,
        explanation="demand stuck at 4,708 MW for 2 h",
        evidence=[anomaly_pb2.AnomalyEvidence(kind="data_quality", score=1.0, detail="stuck")],
    )


class Harness:
    def __init__(self, rules_path: Path, token: SecretStr | None) -> None:
        self.topics = TopicNames()
        self.rules = RulesHolder(rules_path)
        self.processor = AlertEngineProcessor(
            self.topics, self.rules, ReceiverHub([]), consume_readings=False, publisher=self.publish
        )
        self.states: dict[int, StateView[AlertEngine]] = {0: StateView(0), 1: StateView(1)}
        self.out: list[OutRecord] = []
        self.commands: list[InRecord] = []
        self.offsets: dict[int, int] = {}
        self.lock = threading.Lock()
        app = FastAPI()
        app.include_router(alerts_router(self.processor, self.rules, token))
        self.client = TestClient(app)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def publish(self, topic: str, key: str, message: Message, partition: int) -> None:
        """The commands topic: the command is consumed by its partition's engine."""
        with self.lock:
            self.offsets[partition] = offset = self.offsets.get(partition, 0) + 1
            record = InRecord(topic, partition, offset, key, message, 0)
            self.commands.append(record)
            self.out.extend(self.processor.process(record, self.states[partition]))

    def feed(self, partition: int, ts: int) -> None:
        record = InRecord(self.topics.anomalies, partition, 0, DEMAND, _stuck_anomaly(ts), ts)
        with self.lock:
            self.out.extend(self.processor.process(record, self.states[partition]))

    def tick(self) -> None:
        with self.lock:
            self.out.extend(self.processor.punctuate(int(time.time() * 1000), self.states))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            time.sleep(0.02)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(DEFAULT_RULES_FILE.read_text())
    return path


@pytest.fixture
def harness(rules_file: Path) -> Iterator[Harness]:
    h = Harness(rules_file, SecretStr(TOKEN))
    for i in range(4):  # an hour of a stuck demand feed, all in partition 0
        h.feed(0, T0 + i * 900_000)
    h.start()
    yield h
    h.stop()


def _firing(h: Harness) -> list[dict[str, object]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        alerts = h.client.get("/alerts", params={"state": "firing"}).json()
        if alerts:
            return alerts  # type: ignore[no-any-return]
        time.sleep(0.05)
    return []


def test_get_alerts_filters_by_state_and_labels(harness: Harness) -> None:
    firing = _firing(harness)
    names = sorted(a["name"] for a in firing)  # type: ignore[type-var]
    # 45 min of stuck readings: the critical and the persistent anomaly alert, and the cause
    assert names == ["AnomalyCritical", "AnomalyPersistent", "FeedStuck"]
    stuck = harness.client.get("/alerts", params={"label": "alertname=FeedStuck"}).json()
    assert [a["name"] for a in stuck] == ["FeedStuck"]
    inhibited = {a["name"]: a["inhibited"] for a in firing}
    # the stuck feed explains the anomalies: only FeedStuck is notified
    assert inhibited == {"AnomalyCritical": True, "AnomalyPersistent": True, "FeedStuck": False}
    glob = harness.client.get("/alerts", params={"label": "series=ALL/*", "state": "resolved"})
    assert glob.status_code == 200 and glob.json() == []
    bad = harness.client.get("/alerts", params={"label": "no-equals-sign"})
    assert bad.status_code == 400 and "label=name=value" in bad.json()["detail"]
    assert harness.client.get("/alerts", params={"state": "burning"}).status_code == 422


def test_control_endpoints_need_the_token(harness: Harness) -> None:
    body = {"matchers": {"series": DEMAND}, "duration": "2h", "created_by": "oncall"}
    assert harness.client.post("/silences", json=body).status_code == 401
    wrong = {"Authorization": "Bearer not-the-right-token"}
    assert harness.client.post("/silences", json=body, headers=wrong).status_code == 403
    assert harness.client.post("/alerts/abc/ack", json={"by": "x"}).status_code == 401
    assert harness.client.delete("/silences/s-1").status_code == 401
    assert harness.client.post("/rules/reload").status_code == 401
    assert harness.client.get("/rules").status_code == 200  # reading is open


def test_control_endpoints_refused_without_a_configured_token(rules_file: Path) -> None:
    h = Harness(rules_file, None)
    response = h.client.post("/rules/reload", headers=AUTH)
    assert response.status_code == 503 and "GRIDSTREAM_CONTROL_TOKEN" in response.json()["detail"]


def test_silence_ack_and_expire(harness: Harness) -> None:
    firing = _firing(harness)
    stuck = next(a for a in firing if a["name"] == "FeedStuck")
    bad = {"matchers": {"series": DEMAND}, "created_by": "oncall"}  # neither duration nor end
    response = harness.client.post("/silences", json=bad, headers=AUTH)
    assert response.status_code == 422 and "duration" in response.text
    body = {"matchers": {"series": DEMAND}, "duration": "2h", "created_by": "oncall"}
    created = harness.client.post("/silences", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["ends_at_ms"] - silence["starts_at_ms"] == 2 * 3_600_000
    # every partition's engine holds it (partition 1 has no engine yet: created on demand)
    engine0 = harness.states[0].get(ENGINE_KEY)
    assert engine0 is not None and silence["id"] in engine0.silences
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = harness.client.get("/alerts", params={"label": "alertname=FeedStuck"}).json()
        if now and now[0]["silenced"]:
            break
        time.sleep(0.05)
    assert now[0]["silenced"] is True
    listed = harness.client.get("/silences").json()
    assert [s["id"] for s in listed] == [silence["id"]]

    ack = harness.client.post(
        f"/alerts/{stuck['fingerprint']}/ack", json={"by": "ann"}, headers=AUTH
    )
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "ann"
    with harness.lock:
        acks = [o for o in harness.out if ("gs-alert-event", b"ack") in o.headers]
    assert acks and acks[0].value.acknowledged  # type: ignore[attr-defined]
    # the API changed nothing itself: each was a command record, one per partition
    kinds = [r.value.kind for r in harness.commands]  # type: ignore[attr-defined]
    assert kinds == ["silence_add", "silence_add", "alert_ack", "alert_ack"]
    assert {r.partition for r in harness.commands} == {0, 1}
    missing = harness.client.post("/alerts/nope/ack", json={"by": "ann"}, headers=AUTH)
    assert missing.status_code == 404 and "GET /alerts" in missing.json()["detail"]
    assert (
        harness.client.post(
            f"/alerts/{stuck['fingerprint']}/ack", json={}, headers=AUTH
        ).status_code
        == 422
    )

    expired = harness.client.delete(f"/silences/{silence['id']}", headers=AUTH)
    assert expired.status_code == 200
    assert expired.json()["ends_at_ms"] < silence["ends_at_ms"]
    assert harness.client.delete("/silences/s-unknown", headers=AUTH).status_code == 404


def test_rules_reload_validates_and_keeps_the_old_rules(harness: Harness, rules_file: Path) -> None:
    before = harness.client.get("/rules").json()
    assert before["source"] == str(rules_file)
    assert "FeedStuck" in [r["name"] for r in before["rules"]]
    rules_file.write_text("rules:\n  - {name: X, kind: not-a-kind}\n")
    response = harness.client.post("/rules/reload", headers=AUTH)
    assert response.status_code == 422 and "kind" in response.json()["detail"]
    kept = harness.client.get("/rules").json()
    assert kept["version"] == before["version"] and kept["last_reload_error"]
    rules_file.write_text(
        "rules:\n  - {name: OnlyCritical, kind: anomaly, min_severity: critical}\n"
    )
    ok = harness.client.post("/rules/reload", headers=AUTH)
    assert ok.status_code == 200 and [r["name"] for r in ok.json()["rules"]] == ["OnlyCritical"]


def test_rules_file_change_is_picked_up_without_a_request(
    harness: Harness, rules_file: Path
) -> None:
    version = harness.rules.describe()["version"]
    rules_file.write_text("rules:\n  - {name: Watched, kind: anomaly}\n")
    stamp = time.time() + 5
    os.utime(rules_file, (stamp, stamp))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and harness.rules.describe()["version"] == version:
        time.sleep(0.05)
    assert [r.name for r in harness.rules.current().rules] == ["Watched"]
    # engines switch to the new rules at their next tick: the old alerts resolve
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not harness.client.get("/alerts", params={"state": "firing"}).json():
            break
        time.sleep(0.05)
    assert harness.client.get("/alerts", params={"state": "firing"}).json() == []
