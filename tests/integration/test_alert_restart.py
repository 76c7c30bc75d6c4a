"""smart-alert-engine restarted on a REAL broker: its engines come back from the changelog
and nothing already notified is notified again (topic or webhook); new conditions still are."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import count_until_quiet, read_topic
from gridstream.bus.runner import Runner
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.schemas import alert_pb2, anomaly_pb2, common_pb2
from gridstream.services.alert_engine.receivers import ReceiverHub, WebhookReceiver
from gridstream.services.alert_engine.rules import RulesHolder
from gridstream.services.alert_engine.service import SERVICE, AlertEngineProcessor
from gridstream.services.base import make_runner

from .test_alert_webhooks import Endpoint

pytestmark = pytest.mark.integration


def isolated_runner(settings: Settings, service: str, processor, group: str):  # type: ignore[no-untyped-def]
    """The service's runner as ``make_runner`` configures it, with a test-only group (so the
    transactional id and the state changelog are not shared with other tests)."""
    config = dataclasses.replace(make_runner(settings, service, processor).config, group=group)
    return Runner(settings.kafka(client_id=service), config, processor)


T0 = 1_599_682_500_000  # 2020-09-09 20:15 UTC
STEP = 900_000


def stuck(series: str, i: int) -> anomaly_pb2.Anomaly:
    region, _, field = series.partition("/")
    ts = T0 + i * STEP
    return anomaly_pb2.Anomaly(
        record_id=f"{series}@{ts}",
        series_id=series,
        region=region,
        field=field,
        ts_ms=ts,
        value=4708.0,
        score=1.0,
        is_anomaly=True,
        label="stuck",
        severity=common_pb2.SEVERITY_CRITICAL,
        explanation=f"{series} stuck at 4,708 MW",
    )


@pytest.fixture
def settings(kafka_bootstrap: str, unique, tmp_path: Path) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    yield Settings(
        bootstrap=kafka_bootstrap,
        topics=TopicNames().with_prefix(unique("restart") + "-"),
        state_dir=tmp_path,
    )


class Service:
    """The alert engine's processor, runner and receivers, as ``build`` wires them."""

    def __init__(self, settings: Settings, hook_url: str, group: str) -> None:
        self.hub = ReceiverHub.from_urls([hook_url])
        self.processor = AlertEngineProcessor(
            settings.topics, RulesHolder(), self.hub, consume_readings=False
        )
        self.runner = isolated_runner(settings, SERVICE, self.processor, group)
        self.hub.start()
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()
        assert _wait(lambda: self.runner.health.snapshot().ready, 120), (
            self.runner.health.snapshot().detail
        )

    def consumed(self, topic: str) -> float:
        value = self.runner.registry.get_sample_value(
            "gridstream_records_in_total", {"service": SERVICE, "topic": topic}
        )
        return value or 0.0

    def stop(self) -> None:
        hooks = [r for r in self.hub.receivers if isinstance(r, WebhookReceiver)]
        for hook in hooks:
            hook.drain(10)
        self.runner.stop()
        self.thread.join(60)
        self.hub.stop()


def _wait(cond, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return bool(cond())


def _notified(hook: Endpoint) -> list[tuple[str, str, str]]:
    return [
        (a["name"], a["labels"]["series"], a["state"])  # type: ignore[index]
        for _, _, body in hook.requests
        for a in body["alerts"]  # type: ignore[attr-defined]
    ]


def test_restart_sends_no_duplicate_notifications(settings: Settings, unique) -> None:  # type: ignore[no-untyped-def]
    kafka = settings.kafka("test")
    topic = settings.topics.anomalies
    hook = Endpoint([200])
    producer = MessageProducer(kafka)
    first = ("ALL/SYSTEM_DEMAND", "NI/SYSTEM_DEMAND")
    group = unique("alerts")
    try:
        service = Service(settings, hook.url, group)
        for i in range(6):  # 1.5 h of two stuck feeds
            for s in first:
                producer.send(topic, s, stuck(s, i))
        producer.flush()
        try:
            assert _wait(lambda: service.consumed(topic) >= 12, 90)
            assert _wait(
                lambda: (
                    {(n, s) for n, s, st in _notified(hook) if st == "firing"}
                    >= {("FeedStuck", s) for s in first}
                ),
                30,
            ), _notified(hook)
            count_until_quiet(kafka, settings.topics.alerts, quiet_s=3, timeout_s=30)
        finally:
            service.stop()
        before_hook = list(hook.requests)
        before = read_topic(kafka, settings.topics.alerts, alert_pb2.Alert)
        notes_before = [r for r in before if r.headers.get("gs-alert-event") == "notification"]
        assert notes_before

        # restart: the same conditions continue, and a new feed gets stuck
        for i in range(6, 12):  # every feed goes on: event time passes ROI's group wait
            for s in (*first, "ROI/SYSTEM_DEMAND"):  # (the merge waits for every series)
                producer.send(topic, s, stuck(s, i))
        producer.flush()
        service = Service(settings, hook.url, group)
        try:
            assert _wait(lambda: service.consumed(topic) >= 12, 90)
            # the group wait runs on event time: the later records move its engine past it
            assert _wait(
                lambda: ("FeedStuck", "ROI/SYSTEM_DEMAND", "firing") in _notified(hook), 120
            ), _notified(hook)
            count_until_quiet(kafka, settings.topics.alerts, quiet_s=3, timeout_s=30)
            time.sleep(2)  # a few more ticks: nothing may be re-sent for the old alerts
        finally:
            service.stop()
    finally:
        hook.close()

    after = read_topic(kafka, settings.topics.alerts, alert_pb2.Alert)
    seen = {(r.partition, r.offset) for r in before}
    new_records = [r for r in after if (r.partition, r.offset) not in seen]
    # nothing about the two old feeds was notified again, on the topic or the webhook
    old_notes = [
        r
        for r in new_records
        if r.headers.get("gs-alert-event") == "notification"
        and r.value.labels.get("series") in first
    ]
    assert old_notes == []
    new_hook = hook.requests[len(before_hook) :]
    resent = [
        a
        for _, _, body in new_hook
        for a in body["alerts"]  # type: ignore[attr-defined]
        if a["labels"]["series"] in first  # type: ignore[index]
    ]
    assert resent == []
    keys = [k for _, k, _ in hook.requests]
    assert len(keys) == len(set(keys)), "a notification was delivered twice"
    # the restored engines knew the old alerts: no new pending/firing changes for them
    old_changes = [
        r.value
        for r in new_records
        if r.headers.get("gs-alert-event") == "change" and r.value.labels.get("series") in first
    ]
    assert all(c.state == alert_pb2.ALERT_STATE_RESOLVED for c in old_changes), old_changes
    # and the new stuck feed went through the whole lifecycle after the restart
    roi = [r.value for r in new_records if r.value.labels.get("series") == "ROI/SYSTEM_DEMAND"]
    assert {(a.name, a.state) for a in roi} >= {("FeedStuck", alert_pb2.ALERT_STATE_FIRING)}
