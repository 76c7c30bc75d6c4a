"""smart-grid-rebalancer: forecasts, storage schedules, anomalies and alerts in; audited
rebalancing actions out.

An event-time join (issue 22). Per region, the storage schedule of origin ``t`` (one per
origin, in order) is the trigger, and origins are decided in increasing ``t``, exactly once.
What origin ``t`` waits for is fixed by configuration alone (:class:`JoinInputs`): the
forecasts the pipeline produces for the region (the forecaster's fields,
``GRIDSTREAM_FORECASTER_FIELDS``, that the catalogue publishes in that region: demand in every
region, SNSP only in ALL) at their publication interval (demand every 15 min, SNSP every
30 min, so origin ``t`` awaits the SNSP forecast of ``t`` rounded down to the half hour), and
the region's demand anomaly verdicts (the detector judges every reading). Each series is
ordered, so an input is complete for ``t`` once its watermark (newest issue time, or verdict
``ts_ms``, seen on that series) reaches the awaited origin: the forecast itself, or a later
one showing it will never come. The policy then sees the inputs as of ``t``: the newest
forecast at or before the awaited origin (if it is not of that origin the action's reason and
evidence say "no <series> forecast of origin t: used origin t'"), the schedule of ``t``, the
newest demand reading with ``ts <= t`` and the suspects (stuck/gap anomalies, firing
stuck/stale alerts) of event time ``<= t``; newer anomalies and alerts are buffered
(``ev|region|ts|id``) and applied in event-time order as decisions pass them. Demand/SNSP
forecasts of a region where they are not awaited (none is produced there) are ignored, so
they cannot make a decision depend on arrival order. The service clock is the decided origin;
ledger expiry runs per region at ``t`` before deciding ``t``.

Grace (``GRACE_MS``, 264 h of data): if a region's waiting origins span more than that, the
oldest is decided anyway and its actions say "decided after the 264 h grace without: <inputs>".
A 14-day replay runs in ~40 s, so a killed and restarted upstream lags by days of data; a
week covers that and bounds the buffered state. With ``settings.clock == "live"``,
``punctuate`` decides the oldest waiting origin of a region whose inputs have been idle for
``idle_advance_s`` wall seconds ("moved on by the wall clock: <inputs> idle").

Alerts come from the alert engine's feed (``<alerts>-by-region``, see
:mod:`gridstream.bus.alert_feed`): the alerts that name a region, keyed by region, and per
series a watermark written after the alerts up to its time. Origin ``t`` also waits for the
alert watermark of the region's series in ``ALERT_FIELDS`` (demand, wind, CO2 intensity,
SNSP by default, where the catalogue publishes them), so an alert of event time ``<= t`` is
always applied before ``t`` is decided.

Limitation: the alerts of other series, and the anomaly verdicts of series other than demand
(not awaited: the policy acts on demand), apply as of ``t`` only if they have arrived by the
time ``t`` is decided; a later one applies from the next decision on. Also the safety limits
(actions per hour) are global across regions, so with more than one region a hit rate limit
makes the outcome depend on how regions' decisions interleave.

The last decided origin per region is kept in state (``last|region``), so after a restart
re-delivered schedules of decided origins decide nothing again (the ledger comes from the topic).
Every state change of an action is a ``RebalanceAction`` record on ``rebalance_actions`` (keyed
by region): decided (proposed in advisory mode, executed in automatic mode), approved/rejected
by an operator, executed, expired. The ledger is rebuilt from that topic on start, so it
survives restarts. Operator commands from HTTP threads are queued and run on the Kafka loop in
``punctuate``.

Safety limits (per-kind bounds, rate limit, actions per hour) are global, so the service runs
as ONE instance (replicas: 1); its consumer group still fails over on restart.

Settings (env, prefix ``GRIDSTREAM_REBALANCER_``): ``MODE`` (advisory|automatic|off),
``WINDOW_MINUTES`` (60), ``SNSP_LIMIT`` (0.75), ``DEMAND_RESPONSE_THRESHOLD_MW`` (6500),
``MAX_ACTIONS_PER_HOUR`` (12), ``INTERCONNECTORS`` (JSON list of name/region/limits),
``WEBHOOK_URL`` (optional: executed actions are POSTed there as JSON), ``ALERT_FIELDS``
(comma-separated fields whose alert watermarks a decision waits for; empty: none).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf.message import Message
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.alert_feed import (
    alert_feed_topic,
    alert_region,
    watermark_series,
)
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.reader import read_topic
from gridstream.bus.state import StateCodec, StateView
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.rebalance import (
    ActionLedger,
    ActionProposal,
    Interconnector,
    Mode,
    PolicyConfig,
    RebalancePolicy,
    SafetyLimits,
)
from gridstream.core.rebalance.limits import HOUR_MS
from gridstream.errors import ValidationError
from gridstream.schemas import alert_pb2, anomaly_pb2, forecast_pb2, storage_pb2
from gridstream.schemas.common_pb2 import SEVERITY_INFO
from gridstream.schemas.rebalance_pb2 import APPROVAL_STATE_EXECUTED, RebalanceAction
from gridstream.services.base import runner_service
from gridstream.services.forecaster.settings import ForecasterSettings, field_set
from gridstream.services.grid_rebalancer.api import action_json, rebalance_router
from gridstream.services.grid_rebalancer.context import (
    Entry,
    alert_entry,
    anomaly_entries,
    forecast_entry,
    plan_entry,
    policy_inputs,
    split_series,
)
from gridstream.services.grid_rebalancer.control import CommandQueue
from gridstream.services.grid_rebalancer.forecast_entry import filled
from gridstream.services.grid_rebalancer.join_inputs import DECIDE_ON, JoinInputs
from gridstream.services.grid_rebalancer.merged_state import MergedState
from gridstream.services.grid_rebalancer.records import ledger_from_records, new_records
from gridstream.services.grid_rebalancer.webhook import ActionWebhook
from gridstream.services.host import ServiceParts

log = logging.getLogger(__name__)
SERVICE = "smart-grid-rebalancer"
#: series the policy may read but does not wait for (used as of t when they have arrived)
EXTRA_SERIES = ("wind", "co2")
#: bounded grace in data time: a killed and restarted upstream lags by days of data in a
#: 14-day verify replay, and the inputs' own joins wait up to 216 h (detector, storage) and
#: 240 h (alert engine), so a day more than the longest; waiting origins of a region span at
#: most that (bounded state)
DAY_MS = 24 * 3_600_000
GRACE_MS = 11 * DAY_MS


class LinkConfig(BaseModel):
    name: str
    region: str = "ALL"
    import_limit_mw: float = Field(ge=0)
    export_limit_mw: float = Field(ge=0)


class RebalancerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRIDSTREAM_REBALANCER_", frozen=True, extra="ignore"
    )

    mode: Mode = Mode.ADVISORY
    window_minutes: int = Field(60, ge=15, le=1440)
    snsp_limit: float = Field(0.75, gt=0, le=1)
    demand_response_threshold_mw: float = Field(6500.0, gt=0)
    max_actions_per_hour: int = Field(12, ge=1)
    webhook_url: str | None = None
    alert_fields: str = "SYSTEM_DEMAND,WIND_ACTUAL,CO2_INTENSITY,SNSP_ALL"
    interconnectors: list[LinkConfig] = Field(
        default_factory=lambda: [
            LinkConfig(name="EWIC", region="ALL", import_limit_mw=500, export_limit_mw=500),
            LinkConfig(name="Moyle", region="ALL", import_limit_mw=450, export_limit_mw=300),
        ]
    )


ENTRY_CODEC: StateCodec[Entry] = StateCodec(
    lambda e: json.dumps(filled(e), separators=(",", ":")).encode(), lambda b: json.loads(b)
)


class GridRebalancerProcessor(Processor[Entry]):
    state_codec = ENTRY_CODEC
    punctuate_interval_s = 1.0

    def __init__(
        self,
        topics: TopicNames,
        policy: RebalancePolicy,
        mode: Mode,
        window_ms: int,
        interconnectors: Iterable[Interconnector],
        load_trail: Callable[[], list[RebalanceAction]],
        webhook: ActionWebhook | None = None,
        live_idle_ms: int | None = None,
        join: JoinInputs | None = None,
    ) -> None:
        self.topics = topics
        self.join = join or JoinInputs()
        self.policy = policy
        self.mode = mode
        self.window_ms = window_ms
        self.interconnectors = tuple(interconnectors)
        self.control = CommandQueue()
        self._load_trail = load_trail
        self.webhook = webhook
        self._lock = threading.Lock()
        self._ledger: ActionLedger | None = None
        self.state = MergedState()
        self._clock = 0
        self._outbox: list[OutRecord] = []
        self._mode_restored = False
        self.live_idle_ms = live_idle_ms
        self._idle_mark: dict[str, tuple[tuple[str, int, int] | None, int]] = {}

    def internal_topics(self) -> tuple[str, ...]:
        return (alert_feed_topic(self.topics),)  # the alert engine's feed may not exist yet

    def inputs(self) -> Mapping[str, type[Message]]:
        return {
            self.topics.forecasts: forecast_pb2.Forecast,
            self.topics.storage: storage_pb2.StorageSchedule,
            self.topics.anomalies: anomaly_pb2.Anomaly,
            alert_feed_topic(self.topics): alert_pb2.Alert,
        }

    # ---- views for HTTP threads ------------------------------------------------------------
    def actions(self) -> list[ActionProposal]:
        with self._lock:
            return [] if self._ledger is None else self._ledger.actions()

    def audit(self) -> list[dict[str, Any]]:
        with self._lock:
            return [] if self._ledger is None else self._ledger.events

    # ---- worker thread ---------------------------------------------------------------------
    def _ledger_ready(self) -> ActionLedger:
        if self._ledger is None:
            records = self._load_trail()
            ledger = ledger_from_records(records)
            with self._lock:
                self._ledger = ledger
            log.info("rebalancer ledger rebuilt from %d records", len(records))
        return self._ledger

    def _merged(self, region: str) -> dict[str, Entry]:
        """The entries the policy reads for ``region`` (see :func:`policy_inputs`)."""
        keys = [
            *self.state.group(f"fc|{region}|"),
            *self.state.group("suspect|"),
            f"plan|{region}",
            f"obs|{region}|demand",
            f"fcprev|{region}|demand",
        ]
        merged: dict[str, Entry] = {}
        for key in keys:
            value = self.state.get(key)
            if value is not None:
                merged[key] = value
        return merged

    def _last(self, region: str) -> int:
        last = self.state.get(f"last|{region}")
        return -1 if last is None else int(last["t"])

    # ---- inputs: buffer by event time --------------------------------------------------------
    def process(self, record: InRecord, state: StateView[Entry]) -> Iterable[OutRecord]:
        self.state.attach(state)
        if not self._mode_restored:
            self._restore_clock_and_mode()
        msg = record.value
        region: str | None = None
        if isinstance(msg, forecast_pb2.Forecast):
            found = forecast_entry(msg)
            if found is None:
                return []
            key, entry = found
            region, series = key.split("|")[1:]
            if series in DECIDE_ON and series not in self.join.forecasts(region):
                return []  # not produced for this region by configuration: never awaited
            issue = int(entry["issue_ms"])
            self._watermark(state, f"fcw|{region}|{series}", issue)
            # kept while a later decision may use it: newer than what the last decided origin
            # awaited (on a half-hour grid an off-grid forecast of the last origin still counts)
            last = self._last(region)
            awaited = self.join.origin(region, series, last)
            if issue > (last if awaited is None or last < 0 else awaited):
                self.state.put_in(state, f"fcb|{region}|{series}|{issue:015d}", entry)
        elif isinstance(msg, storage_pb2.StorageSchedule):
            if not msg.region:
                raise ValidationError(f"storage schedule {msg.schedule_id!r} names no region")
            _, entry = plan_entry(msg)
            region = msg.region
            if msg.issue_time_ms > self._last(region):
                self.state.put_in(state, f"sch|{region}|{msg.issue_time_ms:015d}", entry)
        elif isinstance(msg, anomaly_pb2.Anomaly):
            region, series = split_series(msg.series_id)
            if series == "demand":
                self._watermark(state, f"anw|{region}", msg.ts_ms)
            changes = dict(anomaly_entries(msg))
            if series != "demand":  # only the demand reading is an observation
                changes.pop(f"obs|{region}|{series}", None)
            self._buffer(state, region, msg.ts_ms, f"an|{msg.series_id}", changes)
        elif isinstance(msg, alert_pb2.Alert):
            region = alert_region(msg)
            if not region:
                return []
            series_id = watermark_series(msg)
            if series_id is not None:
                self._watermark(state, f"alw|{series_id}", msg.updated_at_ms)
                return self._advance(region)
            key, alert = alert_entry(msg)
            ts = msg.updated_at_ms or msg.starts_at_ms
            self._buffer(state, region, ts, f"al|{msg.fingerprint}", {key: alert})
        return self._advance(region) if region else []

    def _watermark(self, state: StateView[Entry], mark: str, ts: int) -> None:
        """Move an input's watermark (newest event time seen on its series) forward."""
        seen = state.get(mark)
        if seen is None or int(seen["t"]) < ts:
            self.state.put_in(state, mark, {"t": ts})
        gone = self.state.get(f"absent|{mark}")
        if gone is not None and ts >= int(gone["t"]):
            self.state.drop(f"absent|{mark}")  # the input is back: awaited again

    @staticmethod
    def _ts_of(key: str, prefix: str) -> int:
        return int(key[len(prefix) :].split("|")[0])

    def _buffer(
        self,
        state: StateView[Entry],
        region: str,
        ts: int,
        uid: str,
        changes: dict[str, Entry | None],
    ) -> None:
        """Keep a state change until the decisions of ``region`` pass its event time."""
        if ts <= self._last(region):
            # already past it: it can only be a re-delivery or a late record; apply in place so
            # the next decision sees it (an alert has no watermark, see the module docstring)
            for key, value in changes.items():
                self.state.set(state, key, value)
            return
        self.state.put_in(state, f"ev|{region}|{ts:015d}|{uid}", {"changes": changes})
        # bounded: events more than two graces older than the newest one of the region (a
        # region whose schedules stopped or never came) are folded into the state in order
        mark = self.state.get(f"evw|{region}")
        day = ts // DAY_MS
        if mark is None or int(mark["day"]) < day:
            self.state.put_one(state, f"evw|{region}", {"day": day})
            self._apply_events(state, region, ts - 2 * GRACE_MS - 1)

    def _apply_events(self, home: StateView[Entry], region: str, until: int) -> None:
        """Apply the buffered events of ``region`` with event time <= ``until``, in order."""
        prefix = f"ev|{region}|"
        while (key := self.state.first(prefix)) is not None and self._ts_of(key, prefix) <= until:
            event = self.state.get(key)
            self.state.drop(key)
            for k, v in (event or {}).get("changes", {}).items():
                self.state.set(home, k, v)

    # ---- the join ----------------------------------------------------------------------------
    def _awaited(self, region: str, t: int) -> list[tuple[str, str, int]]:
        """(input, watermark key, awaited event time) of what origin ``t`` of ``region``
        waits for."""
        out = []
        for series in self.join.forecasts(region):
            origin = self.join.origin(region, series, t)
            assert origin is not None
            out.append((f"{series} forecast", f"fcw|{region}|{series}", origin))
        out.append(("demand anomaly verdicts", f"anw|{region}", t))
        out.extend((f"{sid} alerts", f"alw|{sid}", t) for sid in self.join.alert_series(region))
        return out

    def _missing(self, region: str, t: int) -> list[tuple[str, str, int]]:
        """The awaited inputs origin ``t`` of ``region`` still waits for (empty: ready).

        A series is ordered: a watermark at or past the awaited time means its record has
        arrived, or a later one did and it never will. An input the grace already gave up on
        (``absent|...``, e.g. SNSP before its feed existed) is not waited for again until its
        watermark shows it is back."""
        missing = []
        for name, mark_key, at in self._awaited(region, t):
            mark = self.state.get(mark_key)
            if mark is not None and int(mark["t"]) >= at:
                continue
            if self.state.get(f"absent|{mark_key}") is not None:
                continue
            missing.append((name, mark_key, at))
        return missing

    def _advance(self, region: str, idle: set[str] | None = None) -> list[OutRecord]:
        """Decide the waiting origins of ``region`` that are ready, oldest first."""
        out: list[OutRecord] = []
        prefix = f"sch|{region}|"
        while True:
            first = self.state.first(prefix)
            if first is None:
                return out
            t = int(first[len(prefix) :])
            missing = self._missing(region, t)
            note = ""
            if missing:
                names = ", ".join(name for name, _, _ in missing)
                newest = self.state.last(prefix)
                assert newest is not None
                if int(newest[len(prefix) :]) - t > GRACE_MS:
                    note = f"decided after the {GRACE_MS // 3_600_000} h grace without: {names}"
                    home = self.state.holder(first)
                    assert home is not None
                    for _, mark_key, at in missing:
                        self.state.put_one(home, f"absent|{mark_key}", {"t": at})
                elif idle is not None and region in idle:
                    note = f"moved on by the wall clock: {names} idle"
                else:
                    return out
            out.extend(self._decide_at(region, t, note))
            idle = None

    def _decide_at(self, region: str, t: int, note: str) -> list[OutRecord]:
        plan_key = f"sch|{region}|{t:015d}"
        home = self.state.holder(plan_key)
        assert home is not None
        # the state as of t: buffered events with event time <= t, in event-time order
        self._apply_events(home, region, t)
        notes = [note] if note else []
        for series in DECIDE_ON + EXTRA_SERIES:
            awaited = self.join.origin(region, series, t)
            until = t if awaited is None else awaited
            fprefix = f"fcb|{region}|{series}|"
            newest: Entry | None = None
            while (key := self.state.first(fprefix)) is not None and int(
                key[len(fprefix) :]
            ) <= until:
                newest = self.state.get(key)
                self.state.drop(key)
            if newest is not None:
                current = self.state.get(f"fc|{region}|{series}")
                if current is not None and current["issue_ms"] != newest["issue_ms"]:
                    self.state.put_one(home, f"fcprev|{region}|{series}", current)
                self.state.put_one(home, f"fc|{region}|{series}", newest)
            used = self.state.get(f"fc|{region}|{series}")
            if awaited is not None and (used is None or int(used["issue_ms"]) != awaited):
                origin = "none" if used is None else str(used["issue_ms"])
                notes.append(f"no {series} forecast of origin {awaited}: used origin {origin}")
        plan = self.state.get(plan_key)
        self.state.drop(plan_key)
        if plan is not None:
            self.state.put_one(home, f"plan|{region}", plan)
        self.state.put_one(home, f"last|{region}", {"t": t})
        self._clock = max(self._clock, t)
        self.state.put_one(home, "clock", {"ms": self._clock})
        return self._decide(region, t, notes)

    def _decide(self, region: str, t: int, notes: list[str]) -> list[OutRecord]:
        ledger = self._ledger_ready()
        entries = self._merged(region)
        inputs = policy_inputs(region, entries, t, self.window_ms, self.interconnectors)
        with self._lock:
            before = ledger.event_count
            ledger.expire(t, region)
            recent = ledger.created_since(t - HOUR_MS)
            proposals = self.policy.decide(inputs, self.mode, recent=recent, known=ledger)
            if notes:
                extra = "; ".join(notes)
                proposals = [
                    dataclasses.replace(
                        p, reason=f"{p.reason} [{extra}]", evidence=(*p.evidence, extra)
                    )
                    for p in proposals
                ]
            ledger.record(proposals)
            records = new_records(ledger, before)
        for r in records:
            log.info("rebalance %s %s: %s", r.region, r.action_id, r.reason)
        self._forward(ledger, records)
        return [OutRecord(self.topics.rebalance, r.region, r) for r in records]

    def _forward(self, ledger: ActionLedger, records: list[RebalanceAction]) -> None:
        """Executed actions go to the external control system's webhook, if configured."""
        if self.webhook is None:
            return
        for r in records:
            if r.approval == APPROVAL_STATE_EXECUTED:
                self.webhook.submit(action_json(ledger.get(r.action_id)))

    def _changes(self, change: Callable[[ActionLedger], Any]) -> Any:
        """Apply ``change`` to the ledger and queue the records of what it appended."""
        ledger = self._ledger_ready()
        with self._lock:
            before = ledger.event_count
            try:
                return change(ledger)
            finally:
                records = new_records(ledger, before)
                self._forward(ledger, records)
                for r in records:
                    self._outbox.append(OutRecord(self.topics.rebalance, r.region, r))

    def approve(self, action_id: str, by: str) -> ActionProposal:
        """Approve (worker thread); an approved action is then executed."""

        def change(ledger: ActionLedger) -> ActionProposal:
            ledger.approve(action_id, by, self._clock)
            return ledger.mark_executed(action_id, SERVICE, self._clock)

        result: ActionProposal = self._changes(change)
        return result

    def reject(self, action_id: str, by: str) -> ActionProposal:
        result: ActionProposal = self._changes(
            lambda ledger: ledger.reject(action_id, by, self._clock)
        )
        return result

    def set_mode(self, mode: Mode, by: str) -> Mode:
        previous, self.mode = self.mode, mode
        self.state.put_all("mode", {"mode": mode.value})
        if previous is not mode:
            log.warning("rebalancer mode %s -> %s by %s", previous.value, mode.value, by)
            event = alert_pb2.SystemEvent(
                event_id=f"{SERVICE}/mode/{self._clock}/{mode.value}",
                service=SERVICE,
                kind="rebalancer_mode_changed",
                severity=SEVERITY_INFO,
                message=f"rebalancer mode changed from {previous.value} to {mode.value} by {by}",
                ts_ms=self._clock,
            )
            event.labels["by"] = by
            self._outbox.append(OutRecord(self.topics.system_events, SERVICE, event))
        return mode

    def punctuate(self, now_ms: int, states: Mapping[int, StateView[Entry]]) -> Iterable[OutRecord]:
        self.state.attach_all(states)
        if not self._mode_restored and self.state.views:
            self._restore_clock_and_mode()
        self._ledger_ready()  # rebuilt from the topic at start, so HTTP sees it before a decision
        self.control.run_pending()
        out, self._outbox = self._outbox, []
        if self.live_idle_ms is not None:
            out.extend(self._idle_advance(now_ms))
        return out

    def _idle_advance(self, now_ms: int) -> list[OutRecord]:
        """Live clock only: a region whose oldest origin waits while its inputs have been idle
        for ``idle_advance_s`` wall seconds is decided anyway (the record says so)."""
        assert self.live_idle_ms is not None
        regions = [g.split("|")[1] for g in self.state.groups("sch")]
        out: list[OutRecord] = []
        for region in regions:
            prefix = f"sch|{region}|"
            first = self.state.first(prefix)
            if first is None:
                continue
            mark = (region, int(first[len(prefix) :]), self.state.count(prefix))
            if self._idle_mark.get(region, (None, 0))[0] != mark:
                self._idle_mark[region] = (mark, now_ms)
                continue
            if now_ms - self._idle_mark[region][1] >= self.live_idle_ms:
                out.extend(self._advance(region, idle={region}))
                self._idle_mark.pop(region, None)
        return out

    def _restore_clock_and_mode(self) -> None:
        self._mode_restored = True
        clock = self.state.get("clock")
        self._clock = max(self._clock, int(clock["ms"]) if clock else 0)
        saved = self.state.get("mode")
        if saved is not None:
            self.mode = Mode(saved["mode"])
            log.info("rebalancer mode %s restored", self.mode.value)

    def on_revoked(self, partitions: list[int]) -> None:
        self.state.detach(partitions)


def configured_processor(
    topics: TopicNames,
    own: RebalancerSettings,
    load_trail: Callable[[], list[RebalanceAction]],
    webhook: ActionWebhook | None = None,
    live_idle_ms: int | None = None,
) -> GridRebalancerProcessor:
    """The processor with the policy, interconnectors and join of ``own`` (the service's,
    and ``benchmarks/profile_rebalancer.py``'s without a broker)."""
    config = PolicyConfig(
        snsp_limit=own.snsp_limit,
        demand_response_threshold_mw=own.demand_response_threshold_mw,
        limits=SafetyLimits(max_actions_per_hour=own.max_actions_per_hour),
    )
    links = [
        Interconnector(ic.name, ic.region, ic.import_limit_mw, ic.export_limit_mw, 0.0)
        for ic in own.interconnectors
    ]
    join = JoinInputs(ForecasterSettings().field_set(), field_set(own.alert_fields))
    return GridRebalancerProcessor(
        topics,
        RebalancePolicy(config),
        own.mode,
        own.window_minutes * 60_000,
        links,
        load_trail,
        webhook,
        live_idle_ms,
        join,
    )


def build(
    settings: Settings, own: RebalancerSettings | None = None, name: str = SERVICE
) -> ServiceParts:
    """The rebalancer service; ``name`` sets its consumer group and changelog (tests)."""
    own = own or RebalancerSettings()
    kafka = settings.kafka(client_id=f"{SERVICE}-ledger")
    topic = settings.topics.rebalance

    def load_trail() -> list[RebalanceAction]:
        return [r.value for r in read_topic(kafka, topic, RebalanceAction, timeout_s=120)]

    processor = configured_processor(
        settings.topics,
        own,
        load_trail,
        ActionWebhook(own.webhook_url) if own.webhook_url else None,
        int(settings.idle_advance_s * 1000) if settings.clock == "live" else None,
    )
    router = rebalance_router(processor, settings.control_token)
    parts, _ = runner_service(settings, name, processor, [router])
    return parts
