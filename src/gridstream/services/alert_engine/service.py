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

Time: engines run on event time only: group waits, ``for`` durations, repeat intervals and
resolution follow the event time of the records the engine has applied (each record also
ticks the engine at that time). Records are applied in event-time order by the input merge
(:mod:`gridstream.core.alerts.merge`), which waits for every series seen on the partition
(240 h grace: released past a lagging series, the alerts carry a ``waited`` note; a record
older than what was released is applied at once with a ``late`` note). In event-clock mode
a partition releases nothing until its records span ``GRIDSTREAM_ALERTS_STARTUP_HOLD_HOURS``
(12) of data, so the series whose first verdicts come hours after the others' are still
awaited from the start. After each release the engine writes its alerts by region and a
watermark per series to the rebalancer's feed (:mod:`gridstream.bus.alert_feed`). Staleness
is judged on each series' own clock (its newest record seen). The held records are state entries of
their own, one per hour of data (``held@<ms>``), apart from the engine (``engine``). The wall
clock moves an engine forward only when ``Settings.clock == "live"``: a series idle for
``idle_advance_s`` is not waited for (``waited: moved on by the wall clock``), and an idle
partition's clock moves by the wall clock; those records carry the annotation
``clock: wall (input idle)`` and the header ``gs-alert-clock: wall``.

Receivers: ``alert_output`` (transactional: every state change, tagged
``gs-alert-event: change|ack``, and every alert of a notification, tagged ``notification``
with ``gs-alert-reason`` and ``gs-alert-group``), the log, and webhooks
(``GRIDSTREAM_ALERTS_WEBHOOKS``, at-least-once with an idempotency key).
"""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.alert_feed import (
    WATERMARK_HEADER,
    alert_feed_topic,
    alert_region,
    watermark,
)
from gridstream.bus.alignment import STEP_DRIFT_MS, ts_of
from gridstream.bus.anomaly_records import from_anomaly
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.producer import MessageProducer
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.alerts.engine import AlertEngine
from gridstream.core.alerts.merge import (
    HOUR_MS,
    MERGE_GRACE_MS,
    Frontier,
    Held,
    HeldBlock,
    block_of,
    split_due,
)
from gridstream.core.alerts.model import Alert, EngineOutput, Silence
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.errors import ValidationError
from gridstream.schemas import alert_pb2, anomaly_pb2, readings_pb2
from gridstream.services.alert_engine.api import alerts_router
from gridstream.services.alert_engine.commands import (
    KINDS,
    CommandWaits,
    ack_command,
    apply_command,
    expire_command,
    first_or_unknown,
    silence_command,
)
from gridstream.services.alert_engine.control import AlertControl, WorkerUnavailable
from gridstream.services.alert_engine.inputs import on_anomaly, on_clean, on_event
from gridstream.services.alert_engine.receivers import ReceiverHub, WebhookPolicy
from gridstream.services.alert_engine.records import alert_key, to_alert_pb
from gridstream.services.alert_engine.rules import RulesHolder
from gridstream.services.alert_engine.state import (
    ENGINE_KEY,
    EngineState,
    block_key,
    engine_codec,
    engine_in,
)
from gridstream.services.base import runner_service
from gridstream.services.host import ServiceParts

SERVICE = "smart-alert-engine"
WALL_NOTE = "wall (input idle)"

#: publishes one command copy: (topic, key, message, partition)
Publisher = Callable[[str, str, Message, int], None]


class AlertSettings(BaseSettings):
    """``GRIDSTREAM_ALERTS_*``: the alert engine's own settings."""

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_ALERTS_", frozen=True, extra="ignore")

    rules_file: Path | None = None  # default: the rules shipped with the package
    watch_rules: bool = True  # reload the rules file when it changes
    #: also read preprocessed_data. Off by default: the detector judges every reading and its
    #: verdict carries the value, so the anomalies stand for the readings, and the engine then
    #: waits for one dense input only (readings run ahead of the verdicts by the pipeline's lag)
    consume_readings: bool = False
    webhooks: str = ""  # comma-separated URLs receiving notifications as JSON
    #: event-clock mode: a partition's merge releases nothing until its records span this
    #: much data, so every series seen in that time is awaited from the start (not late)
    startup_hold_hours: float = 12.0
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


class AlertEngineProcessor(Processor[EngineState]):
    align_drift_ms = STEP_DRIFT_MS
    punctuate_interval_s = 1.0

    def __init__(
        self,
        topics: TopicNames,
        rules: RulesHolder,
        hub: ReceiverHub,
        control: AlertControl | None = None,
        consume_readings: bool = True,
        watch_rules: bool = True,
        clock: str = "event",
        idle_advance_s: float = 30.0,
        publisher: Publisher | None = None,
        command_timeout_s: float = 10.0,
        startup_hold_ms: int = 0,
    ) -> None:
        self.clock = clock
        self.startup_hold_ms = startup_hold_ms
        self.idle_advance_ms = int(idle_advance_s * 1000)
        self.topics = topics
        self.feed_topic = alert_feed_topic(topics)
        self.rules = rules
        self.hub = hub
        self.control = control or AlertControl()
        self.consume_readings = consume_readings
        self.watch_rules = watch_rules
        self.state_codec = engine_codec(self.rules.current)
        self._views: Mapping[int, StateView[EngineState]] = {}
        self._clock: dict[int, tuple[int, int]] = {}  # partition -> (event ms, wall ms)
        self._arrival: dict[tuple[int, str], int] = {}  # live mode: (partition, stream) -> wall
        self.publisher = publisher
        self.waits = CommandWaits()
        self.command_timeout_s = command_timeout_s

    def internal_topics(self) -> tuple[str, ...]:
        return (self.feed_topic,)

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        return {self.topics.anomalies: ts_of}  # read the series' partitions in step

    def inputs(self) -> Mapping[str, type[Message]]:
        topics: dict[str, type[Message]] = {
            self.topics.anomalies: anomaly_pb2.Anomaly,
            self.topics.system_events: alert_pb2.SystemEvent,
        }
        if self.consume_readings:
            topics[self.topics.preprocessed] = readings_pb2.CleanReading
        topics[self.topics.alert_commands] = alert_pb2.SystemEvent
        return topics

    def _stream(self, topic: str, series_id: str) -> str | None:
        """The merge's stream of a record: one series of a dense input (named by what the
        input is, not by its topic name, which differs between deployments); None for the
        sparse inputs, which the merge orders but does not wait for (see core.alerts.merge)."""
        if topic == self.topics.anomalies:
            return f"anomalies {series_id}"
        if topic == self.topics.preprocessed:
            return f"readings {series_id}"
        return None

    def _readings_topic(self) -> str:
        """The input whose records are the series' readings (their staleness clock)."""
        return self.topics.preprocessed if self.consume_readings else self.topics.anomalies

    # ---- records ---------------------------------------------------------------------------
    def process(self, record: InRecord, state: StateView[EngineState]) -> Iterable[OutRecord]:
        engine = self._engine(state)
        ts, key = self._validate(record)
        rank = list(self.inputs()).index(record.topic)
        payload = base64.b64encode(record.value.SerializeToString()).decode()
        held = Held(ts, rank, key, record.offset, record.topic, payload)
        stream = self._stream(record.topic, key)
        engine.merge.observe(stream, ts)
        if record.topic == self._readings_topic():
            engine.heard(key, ts)
        if stream is not None and self.clock == "live":
            self._arrival[(state.partition, stream)] = _wall_ms()
        if stream is not None and engine.merge.is_late(ts):  # its place was released already
            note = f"{stream} at {ts} arrived after the merge released {engine.merge.released_ms}"
            records = self._apply(engine, state.partition, [held], {"late": note})
        else:
            block = self._block(state, engine, ts)
            block.records.append(held)
            state.put(block_key(block.start_ms), block)
            records = self._release(state, engine)
        state.put(ENGINE_KEY, engine)
        self._clock[state.partition] = (engine.now_ms, _wall_ms())
        return self._with_feed(records)

    def _block(self, state: StateView[EngineState], engine: AlertEngine, ts: int) -> HeldBlock:
        start = block_of(ts)
        block = state.get(block_key(start))
        if not isinstance(block, HeldBlock):
            block = HeldBlock(start)
            engine.merge.blocks.add(start)
        return block

    def _release(
        self, state: StateView[EngineState], engine: AlertEngine, idle: frozenset[str] = frozenset()
    ) -> list[OutRecord]:
        """Apply the held records the merge's frontier has reached (``idle``: live mode's
        streams not waited for); the records say which streams time moved on without."""
        front = engine.merge.frontier(idle, self.startup_hold_ms)
        due: list[Held] = []
        for start in engine.merge.due_blocks(front.ms):
            block = state.get(block_key(start))
            taken, rest = split_due(block, front.ms) if isinstance(block, HeldBlock) else ([], None)
            due.extend(taken)
            if rest is None or not rest.records:
                engine.merge.blocks.discard(start)
                state.delete(block_key(start))
            elif taken:
                state.put(block_key(start), rest)
        before = engine.merge.released_ms
        engine.merge.advance(front)
        records = self._apply(engine, state.partition, sorted(due), self._notes(front, idle))
        if engine.merge.released_ms > before:  # after its alerts, in the same partitions
            records.extend(self._watermarks(engine))
        return records

    def _watermarks(self, engine: AlertEngine) -> list[OutRecord]:
        """The feed's watermark of every series of the partition: the merge released every
        record up to ``released_ms``, so every alert up to then was emitted before this."""
        series = sorted({s.partition(" ")[2] for s in engine.merge.watermarks})
        through = engine.merge.released_ms
        return [
            OutRecord(
                self.feed_topic, sid.partition("/")[0], watermark(sid, through), (WATERMARK_HEADER,)
            )
            for sid in series
            if "/" in sid
        ]

    def _with_feed(self, records: list[OutRecord]) -> list[OutRecord]:
        """Each alert record followed by its copy on the rebalancer's feed, keyed by region
        (alerts without a region are not copied)."""
        out: list[OutRecord] = []
        for r in records:
            out.append(r)
            if r.topic == self.topics.alerts and isinstance(r.value, alert_pb2.Alert):
                region = alert_region(r.value)
                if region:
                    out.append(OutRecord(self.feed_topic, region, r.value, r.headers))
        return out

    @staticmethod
    def _notes(front: Frontier, idle: frozenset[str]) -> dict[str, str]:
        why: list[str] = []
        if front.lagging:
            hours = MERGE_GRACE_MS // 3_600_000
            why.append(f"moved on without {', '.join(front.lagging)} after the {hours} h grace")
        if idle:
            why.append(f"moved on by the wall clock: {', '.join(sorted(idle))} idle")
        return {"waited": "; ".join(why)} if why else {}

    def _validate(self, record: InRecord) -> tuple[int, str]:
        """The record's event time and key (series, or event id); raises ValidationError
        (dead letter) if it has none."""
        msg = record.value
        if isinstance(msg, anomaly_pb2.Anomaly):
            if "/" not in msg.series_id:
                raise ValidationError(f"anomaly without a series id: {msg.record_id!r}")
            ts, what, key = msg.ts_ms, msg.record_id, msg.series_id
        elif isinstance(msg, readings_pb2.CleanReading):
            if "/" not in msg.series_id:
                raise ValidationError(f"reading without a series id: {msg.record_id!r}")
            ts, what, key = msg.ts_ms, msg.record_id, msg.series_id
        elif isinstance(msg, alert_pb2.SystemEvent):
            if record.topic == self.topics.alert_commands and msg.kind not in KINDS:
                raise ValidationError(f"unknown alert command {msg.kind!r}: expected {KINDS}")
            if not msg.kind:
                raise ValidationError(f"system event without a kind: {msg.event_id!r}")
            ts, what, key = msg.ts_ms or record.timestamp_ms, msg.event_id, msg.event_id
        else:
            raise ValidationError(f"unexpected message {type(msg).__name__}")
        _check_time(ts, what)
        return ts, key

    def _apply(
        self, engine: AlertEngine, partition: int, due: list[Held], notes: Mapping[str, str]
    ) -> list[OutRecord]:
        """Apply released records in order; ``notes`` say why time moved on (if it did).
        Each record's outputs are emitted before the next is applied, so the alerts do not
        depend on how the records were batched by their release."""
        records: list[OutRecord] = []
        for held in due:
            acks: list[Alert] = []
            out = self._apply_one(engine, partition, held, acks)
            out.extend(engine.tick(engine.now_ms))  # staleness on the event clock
            records.extend(self._emit(out, engine, notes))
            records.extend(self._record(a, (("gs-alert-event", b"ack"),)) for a in acks)
        return records

    def _apply_one(
        self, engine: AlertEngine, partition: int, held: Held, acks: list[Alert]
    ) -> EngineOutput:
        data = base64.b64decode(held.payload)
        if held.topic == self.topics.anomalies:
            anomaly = anomaly_pb2.Anomaly.FromString(data)
            return on_anomaly(engine, from_anomaly(anomaly), with_reading=not self.consume_readings)
        if held.topic == self.topics.preprocessed:
            return on_clean(engine, readings_pb2.CleanReading.FromString(data))
        event = alert_pb2.SystemEvent.FromString(data)
        if held.topic == self.topics.alert_commands:
            result = apply_command(engine, event)
            if isinstance(result, Alert):
                acks.append(dataclasses.replace(result))
            self.waits.applied(event.event_id, partition, _snapshot(result))
            out = EngineOutput()
            out.extend(engine.tick(max(engine.now_ms, event.ts_ms)))
            return out
        ts = event.ts_ms or held.ts_ms
        service = event.service or "unknown"
        return on_event(engine, event.kind, service, ts, event.message, event.labels)

    def _engine(self, state: StateView[EngineState]) -> AlertEngine:
        engine = engine_in(state)
        current = self.rules.current()
        if engine is None:  # (every partition gets every command: nothing to copy)
            engine = AlertEngine(current)
        elif engine.rules is not current:
            engine.reload(current)
        return engine

    def _emit(
        self, out: EngineOutput, engine: AlertEngine, notes: Mapping[str, str] | None = None
    ) -> list[OutRecord]:
        if notes:  # time moved on without an input (grace, the wall clock), or came late
            for alert in [*out.changes, *(a for n in out.notifications for a in n.alerts)]:
                alert.annotations = {**alert.annotations, **notes}
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
        if alert.annotations.get("clock") == WALL_NOTE:
            headers = (*headers, ("gs-alert-clock", b"wall"))
        return OutRecord(self.topics.alerts, alert_key(alert), to_alert_pb(alert), headers)

    # ---- time and operator commands --------------------------------------------------------
    def on_revoked(self, partitions: list[int]) -> None:
        for p in partitions:
            self._clock.pop(p, None)
            for key in [k for k in self._arrival if k[0] == p]:
                del self._arrival[key]

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[EngineState]]
    ) -> Iterable[OutRecord]:
        self._views = states
        if self.watch_rules:
            self.rules.reload_if_changed()
        self.control.run_pending()
        out: list[OutRecord] = []
        for partition, view in states.items():
            engine = engine_in(view)
            if engine is None:
                continue
            result = EngineOutput()
            if engine.rules is not self.rules.current():  # an operator action: at event time
                engine.reload(self.rules.current())
                result.extend(engine.tick(engine.now_ms))
                view.put(ENGINE_KEY, engine)
            out.extend(self._emit(result, engine))
            if self.clock == "live":
                out.extend(self._live_advance(now_ms, partition, view, engine))
        engines = self._engines()
        self.control.publish(
            (a for e in engines for a in e.alerts.values()),
            {s.id: s for e in engines for s in e.silences.values()}.values(),
        )
        return self._with_feed(out)

    def _live_advance(
        self, now_ms: int, partition: int, view: StateView[EngineState], engine: AlertEngine
    ) -> list[OutRecord]:
        """Live clock mode only: a stream (series) idle for ``idle_advance_s`` is not waited
        for, and an idle partition's clock moves by the wall clock (the idle series' clocks
        with it, so a dead feed goes stale); the records say so."""
        out: list[OutRecord] = []
        idle = frozenset(
            s
            for s in engine.merge.watermarks
            if now_ms - self._arrival.setdefault((partition, s), now_ms) >= self.idle_advance_ms
        )
        if idle and engine.merge.blocks:
            out.extend(self._release(view, engine, idle))
            view.put(ENGINE_KEY, engine)
        event_ms, wall_ms = self._clock.setdefault(partition, (engine.now_ms, now_ms))
        quiet = now_ms - wall_ms
        if quiet >= self.idle_advance_ms and event_ms + quiet > engine.now_ms:
            for series in engine.heard_ms:
                engine.heard(series, event_ms + quiet)
            result = engine.tick(event_ms + quiet)
            view.put(ENGINE_KEY, engine)
            out.extend(self._emit(result, engine, {"clock": WALL_NOTE}))
        return out

    def _engines(self) -> list[AlertEngine]:
        return [e for e in (engine_in(v) for v in self._views.values()) if e is not None]

    # ---- operator commands: published to alert_commands, applied by the engines ----------
    def _now(self) -> int:
        """The engines' newest event time (the wall clock before any record was seen)."""
        return max((e.now_ms for e in self._engines()), default=0) or _wall_ms()

    def _publish_and_wait(self, make: Callable[[str, int], alert_pb2.SystemEvent]) -> list[Any]:
        """HTTP thread: one copy of the command per partition, each stamped with the time its
        engine has reached (the stream's clock when it was accepted, so it applies at once and
        at the same point in a replay); the engines' results once all applied it."""
        views = dict(self._views)
        if not views or self.publisher is None:
            raise WorkerUnavailable(
                "the alert worker has no partitions assigned yet: check /ready and retry"
            )
        command_id = uuid.uuid4().hex
        now = self._now()
        self.waits.expect(command_id, set(views))
        for partition, view in sorted(views.items()):
            engine = engine_in(view)
            reached = engine.merge.released_ms if engine is not None else -1
            stamp = reached if reached > 0 else now
            message = make(command_id, stamp)
            self.publisher(self.topics.alert_commands, command_id, message, partition)
        results = self.waits.result(command_id, self.command_timeout_s)
        if results is None:
            raise WorkerUnavailable(
                f"command {command_id} was published but not applied within "
                f"{self.command_timeout_s:g} s (the engine is behind): check GET /silences "
                "or GET /alerts before retrying"
            )
        return results

    def add_silence(
        self,
        matchers: Mapping[str, str],
        duration_ms: int,
        created_by: str,
        comment: str,
        starts_at_ms: int | None = None,
    ) -> Silence:
        """A silence on every engine, from the engines' time unless ``starts_at_ms``."""
        start = self._now() if starts_at_ms is None else starts_at_ms
        results = self._publish_and_wait(
            lambda cid, ts: silence_command(
                cid, ts, matchers, duration_ms, created_by, comment, start
            )
        )
        silence: Silence = first_or_unknown(results, "the silence was not applied")
        return silence

    def expire_silence(self, silence_id: str) -> Silence:
        results = self._publish_and_wait(lambda cid, ts: expire_command(cid, ts, silence_id))
        what = f"no silence {silence_id!r}: list them with GET /silences"
        silence: Silence = first_or_unknown(results, what)
        return silence

    def acknowledge(self, fingerprint: str, by: str) -> Alert:
        results = self._publish_and_wait(lambda cid, ts: ack_command(cid, ts, fingerprint, by))
        what = f"no alert {fingerprint!r}: list them with GET /alerts"
        alert: Alert = first_or_unknown(results, what)
        return alert


def _snapshot(result: Silence | Alert | None) -> Silence | Alert | None:
    if isinstance(result, Silence):
        return _copy(result)
    return None if result is None else dataclasses.replace(result)


def _check_time(ts_ms: int, what: str) -> None:
    """Event time drives the engine's clock: a record from year 2999 would resolve and expire
    everything at once, so implausible times are rejected (dead-lettered)."""
    if not MIN_TS_MS <= ts_ms < MAX_TS_MS:
        raise ValidationError(f"{what!r}: event time {ts_ms} ms is not between 2000 and 2100")


def _copy(silence: Silence) -> Silence:
    return Silence(**{**silence.__dict__, "matchers": dict(silence.matchers)})


def _wall_ms() -> int:
    return int(time.time() * 1000)


class CommandPublisher:
    """Publishes operator commands to ``alert_commands`` (HTTP threads; created on first use)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._producer: MessageProducer | None = None

    def __call__(self, topic: str, key: str, message: Message, partition: int) -> None:
        with self._lock:
            if self._producer is None:
                self._producer = MessageProducer(self._settings.kafka(client_id=SERVICE + "-api"))
            self._producer.send(topic, key, message, partition=partition)
            self._producer.flush(10)


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
        settings.topics,
        rules,
        hub,
        control,
        config.consume_readings,
        config.watch_rules,
        settings.clock,
        settings.idle_advance_s,
        startup_hold_ms=0 if settings.clock == "live" else int(config.startup_hold_hours * HOUR_MS),
    )
    processor.publisher = CommandPublisher(settings)
    router = alerts_router(processor, rules, settings.control_token)
    parts, runner = runner_service(settings, SERVICE, processor, [router])
    hub.receivers = ReceiverHub.from_urls(
        config.webhook_urls(), config.webhook_policy(), runner.registry
    ).receivers
    parts.worker = AlertWorker(runner, hub)
    return parts
