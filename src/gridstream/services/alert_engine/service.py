"""smart-alert-engine: anomalies, readings and system events -> alerts and notifications.

Inputs: ``anomaly_output`` (Anomaly), ``system_events`` (SystemEvent) and, unless
``GRIDSTREAM_ALERTS_CONSUME_READINGS=false``, ``preprocessed_data`` (CleanReading, for
threshold, staleness and SNSP rules; without it the anomaly records' values are used).
A reading flagged stuck (or an anomaly labelled ``stuck``) is a ``feed_stuck`` event, so the
FeedStuck alert inhibits the anomaly alerts of the same series.

Scaling: one :class:`~gridstream.core.alerts.engine.AlertEngine` per input partition, kept as
keyed state (key ``engine``) in the changelog, committed with the outputs and offsets in one
transaction: after a restart the engine knows what it already notified and sends nothing
twice. All inputs are keyed by series (system events by service), so de-duplication,
staleness and the series-level inhibition (FeedStuck -> anomalies of that series) are
exact; grouping groups the alerts of one partition. Alert volume is small (a few series at
one reading per 15 min), so the service runs as ONE replica that owns every partition: that
replica's API sees and silences everything. Extra replicas would split the partitions (and
each API would see its share).

Time: engines run on event time. Every second a tick advances each engine's clock by the
wall time elapsed since its partition's last record, so group waits, ``for`` durations and
staleness progress when the inputs are quiet, and a replay of old data keeps its own time.

Receivers: ``alert_output`` (transactional: every state change, tagged
``gs-alert-event: change|ack``, and every alert of a notification, tagged ``notification``
with ``gs-alert-reason`` and ``gs-alert-group``), the log, and webhooks
(``GRIDSTREAM_ALERTS_WEBHOOKS``, at-least-once with an idempotency key).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.anomaly_records import from_anomaly
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.state import StateCodec, StateView
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.alerts.engine import AlertEngine, UnknownAlert
from gridstream.core.alerts.model import Alert, EngineOutput, Silence
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.errors import ValidationError
from gridstream.schemas import alert_pb2, anomaly_pb2, readings_pb2
from gridstream.services.alert_engine.api import alerts_router
from gridstream.services.alert_engine.control import AlertControl
from gridstream.services.alert_engine.inputs import on_anomaly, on_clean, on_event
from gridstream.services.alert_engine.receivers import ReceiverHub, WebhookPolicy
from gridstream.services.alert_engine.records import alert_key, to_alert_pb
from gridstream.services.alert_engine.rules import RulesHolder
from gridstream.services.base import runner_service
from gridstream.services.host import ServiceParts

SERVICE = "smart-alert-engine"
ENGINE_KEY = "engine"


class AlertSettings(BaseSettings):
    """``GRIDSTREAM_ALERTS_*``: the alert engine's own settings."""

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_ALERTS_", frozen=True, extra="ignore")

    rules_file: Path | None = None  # default: the rules shipped with the package
    watch_rules: bool = True  # reload the rules file when it changes
    consume_readings: bool = True  # read preprocessed_data for threshold/staleness rules
    webhooks: str = ""  # comma-separated URLs receiving notifications as JSON
    webhook_timeout_s: float = 5.0
    webhook_max_attempts: int = 6
    webhook_backoff_s: float = 0.5
    webhook_backoff_max_s: float = 30.0
    webhook_queue_size: int = 10_000

    def webhook_urls(self) -> list[str]:
        return [u.strip() for u in self.webhooks.split(",") if u.strip()]

    def webhook_policy(self) -> WebhookPolicy:
        return WebhookPolicy(
            self.webhook_timeout_s,
            self.webhook_max_attempts,
            self.webhook_backoff_s,
            self.webhook_backoff_max_s,
            self.webhook_queue_size,
        )


class AlertEngineProcessor(Processor[AlertEngine]):
    punctuate_interval_s = 1.0

    def __init__(
        self,
        topics: TopicNames,
        rules: RulesHolder,
        hub: ReceiverHub,
        control: AlertControl | None = None,
        consume_readings: bool = True,
        watch_rules: bool = True,
    ) -> None:
        self.topics = topics
        self.rules = rules
        self.hub = hub
        self.control = control or AlertControl()
        self.consume_readings = consume_readings
        self.watch_rules = watch_rules
        self.state_codec = StateCodec(
            lambda engine: engine.to_bytes(),
            lambda data: AlertEngine.from_bytes(self.rules.current(), data),
        )
        self._views: Mapping[int, StateView[AlertEngine]] = {}
        self._clock: dict[int, tuple[int, int]] = {}  # partition -> (event ms, wall ms)
        self._pending: list[OutRecord] = []

    def inputs(self) -> Mapping[str, type[Message]]:
        topics: dict[str, type[Message]] = {
            self.topics.anomalies: anomaly_pb2.Anomaly,
            self.topics.system_events: alert_pb2.SystemEvent,
        }
        if self.consume_readings:
            topics[self.topics.preprocessed] = readings_pb2.CleanReading
        return topics

    # ---- records ---------------------------------------------------------------------------
    def process(self, record: InRecord, state: StateView[AlertEngine]) -> Iterable[OutRecord]:
        engine = self._engine(state)
        out = EngineOutput()
        msg = record.value
        if isinstance(msg, anomaly_pb2.Anomaly):
            result = from_anomaly(msg)
            if "/" not in result.series_id:
                raise ValidationError(f"anomaly without a series id: {msg.record_id!r}")
            _check_time(result.ts_ms, msg.record_id)
            out.extend(on_anomaly(engine, result, with_reading=not self.consume_readings))
        elif isinstance(msg, readings_pb2.CleanReading):
            if "/" not in msg.series_id:
                raise ValidationError(f"reading without a series id: {msg.record_id!r}")
            _check_time(msg.ts_ms, msg.record_id)
            out.extend(on_clean(engine, msg))
        elif isinstance(msg, alert_pb2.SystemEvent):
            if not msg.kind:
                raise ValidationError(f"system event without a kind: {msg.event_id!r}")
            ts = msg.ts_ms or record.timestamp_ms
            _check_time(ts, msg.event_id)
            service = msg.service or record.key or "unknown"
            out.extend(on_event(engine, msg.kind, service, ts, msg.message, msg.labels))
        else:
            raise ValidationError(f"unexpected message {type(msg).__name__}")
        state.put(ENGINE_KEY, engine)
        self._clock[state.partition] = (engine.now_ms, _wall_ms())
        return self._emit(out, engine)

    def _engine(self, state: StateView[AlertEngine]) -> AlertEngine:
        engine = state.get(ENGINE_KEY)
        current = self.rules.current()
        if engine is None:
            engine = AlertEngine(current)
            for view in self._views.values():  # a new partition's engine shares the silences
                other = view.get(ENGINE_KEY)
                if other is not None:
                    engine.silences.update({k: _copy(s) for k, s in other.silences.items()})
        elif engine.rules is not current:
            engine.reload(current)
        return engine

    def _emit(self, out: EngineOutput, engine: AlertEngine) -> list[OutRecord]:
        for change in out.changes:  # suppression is decided after the change was recorded
            live = engine.alerts.get(change.fingerprint)
            if live is not None:
                change.silenced, change.inhibited = live.silenced, live.inhibited
        records = [self._record(a, (("gs-alert-event", b"change"),)) for a in out.changes]
        for note in out.notifications:
            headers = (
                ("gs-alert-event", b"notification"),
                ("gs-alert-reason", note.reason.encode()),
                ("gs-alert-group", note.group_key.encode()),
            )
            records.extend(self._record(a, headers) for a in note.alerts)
            self.hub.notify(note)
        return records

    def _record(self, alert: Alert, headers: tuple[tuple[str, bytes], ...]) -> OutRecord:
        return OutRecord(self.topics.alerts, alert_key(alert), to_alert_pb(alert), headers)

    # ---- time and operator commands --------------------------------------------------------
    def on_revoked(self, partitions: list[int]) -> None:
        for p in partitions:
            self._clock.pop(p, None)

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[AlertEngine]]
    ) -> Iterable[OutRecord]:
        self._views = states
        if self.watch_rules:
            self.rules.reload_if_changed()
        self.control.run_pending()
        out, self._pending = self._pending, []
        for partition, view in states.items():
            engine = view.get(ENGINE_KEY)
            if engine is None:
                continue
            if engine.rules is not self.rules.current():
                engine.reload(self.rules.current())
            event_ms, wall_ms = self._clock.setdefault(partition, (engine.now_ms, now_ms))
            result = engine.tick(max(engine.now_ms, event_ms + now_ms - wall_ms))
            if result.changes or result.notifications:
                view.put(ENGINE_KEY, engine)
            out.extend(self._emit(result, engine))
        engines = self._engines()
        self.control.publish(
            (a for e in engines for a in e.alerts.values()),
            {s.id: s for e in engines for s in e.silences.values()}.values(),
        )
        return out

    def _engines(self) -> list[AlertEngine]:
        return [e for e in (v.get(ENGINE_KEY) for v in self._views.values()) if e is not None]

    def add_silence(
        self,
        matchers: Mapping[str, str],
        duration_ms: int,
        created_by: str,
        comment: str,
        starts_at_ms: int | None = None,
    ) -> Silence:
        """A silence on every engine (worker thread); times default to the engines' clock."""
        engines = self._engines()
        now = max((e.now_ms for e in engines), default=_wall_ms())
        start = now if starts_at_ms is None else starts_at_ms
        silence = Silence(
            f"s-{time.time_ns():x}", dict(matchers), start, start + duration_ms, created_by, comment
        )
        for view in self._views.values():
            engine = view.get(ENGINE_KEY)
            if engine is not None:
                engine.silences[silence.id] = _copy(silence)
                view.put(ENGINE_KEY, engine)
        return silence

    def expire_silence(self, silence_id: str) -> Silence:
        found: Silence | None = None
        for view in self._views.values():
            engine = view.get(ENGINE_KEY)
            if engine is not None and silence_id in engine.silences:
                found = _copy(engine.expire_silence(silence_id, engine.now_ms))
                view.put(ENGINE_KEY, engine)
        if found is None:
            raise UnknownAlert(f"no silence {silence_id!r}: list them with GET /silences")
        return found

    def acknowledge(self, fingerprint: str, by: str) -> Alert:
        for view in self._views.values():
            engine = view.get(ENGINE_KEY)
            if engine is not None and fingerprint in engine.alerts:
                alert = engine.acknowledge(fingerprint, by, engine.now_ms)
                view.put(ENGINE_KEY, engine)
                self._pending.append(self._record(alert, (("gs-alert-event", b"ack"),)))
                return alert
        raise UnknownAlert(f"no alert {fingerprint!r}: list them with GET /alerts")


def _check_time(ts_ms: int, what: str) -> None:
    """Event time drives the engine's clock: a record from year 2999 would resolve and expire
    everything at once, so implausible times are rejected (dead-lettered)."""
    if not MIN_TS_MS <= ts_ms < MAX_TS_MS:
        raise ValidationError(f"{what!r}: event time {ts_ms} ms is not between 2000 and 2100")


def _copy(silence: Silence) -> Silence:
    return Silence(**{**silence.__dict__, "matchers": dict(silence.matchers)})


def _wall_ms() -> int:
    return int(time.time() * 1000)


class AlertWorker:
    """The runner plus the receivers' delivery threads, started and stopped together."""

    def __init__(self, runner: Any, hub: ReceiverHub) -> None:
        self.runner = runner
        self.hub = hub

    def run(self) -> None:
        self.hub.start()
        try:
            self.runner.run()
        finally:
            self.hub.stop()

    def stop(self) -> None:
        self.runner.stop()


def build(settings: Settings) -> ServiceParts:

    config = AlertSettings()
    rules = RulesHolder(config.rules_file)
    hub = ReceiverHub([])
    control = AlertControl()
    processor = AlertEngineProcessor(
        settings.topics, rules, hub, control, config.consume_readings, config.watch_rules
    )
    router = alerts_router(processor, rules, settings.control_token)
    parts, runner = runner_service(settings, SERVICE, processor, [router])
    hub.receivers = ReceiverHub.from_urls(
        config.webhook_urls(), config.webhook_policy(), runner.registry
    ).receivers
    parts.worker = AlertWorker(runner, hub)
    return parts
