"""smart-grid-rebalancer: forecasts, storage schedules, anomalies and alerts in; audited
rebalancing actions out.

Inputs update keyed state (see ``rebalance_context``); a new storage schedule or a demand/SNSP
forecast runs :class:`RebalancePolicy` for that region. Every state change of an action is a
``RebalanceAction`` record on ``rebalance_actions`` (keyed by region): decided (proposed in
advisory mode, executed in automatic mode), approved/rejected by an operator, executed,
expired. The ledger is rebuilt from that topic on start, so it survives restarts. Operator
commands from HTTP threads are queued and run on the Kafka loop in ``punctuate``.

Safety limits (per-kind bounds, rate limit, actions per hour) are global, so the service runs
as ONE instance (replicas: 1); its consumer group still fails over on restart.

Settings (env, prefix ``GRIDSTREAM_REBALANCER_``): ``MODE`` (advisory|automatic|off),
``WINDOW_MINUTES`` (60), ``SNSP_LIMIT`` (0.75), ``DEMAND_RESPONSE_THRESHOLD_MW`` (6500),
``MAX_ACTIONS_PER_HOUR`` (12), ``INTERCONNECTORS`` (JSON list of name/region/limits),
``WEBHOOK_URL`` (optional: executed actions are POSTed there as JSON).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf.message import Message
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
from gridstream.services.grid_rebalancer.api import action_json, rebalance_router
from gridstream.services.grid_rebalancer.context import (
    Entry,
    alert_entry,
    anomaly_entries,
    forecast_entry,
    plan_entry,
    policy_inputs,
)
from gridstream.services.grid_rebalancer.control import CommandQueue
from gridstream.services.grid_rebalancer.records import ledger_from_records, new_records
from gridstream.services.grid_rebalancer.webhook import ActionWebhook
from gridstream.services.host import ServiceParts

log = logging.getLogger(__name__)
SERVICE = "smart-grid-rebalancer"
DECIDE_ON = ("demand", "snsp")


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
    interconnectors: list[LinkConfig] = Field(
        default_factory=lambda: [
            LinkConfig(name="EWIC", region="ALL", import_limit_mw=500, export_limit_mw=500),
            LinkConfig(name="Moyle", region="ALL", import_limit_mw=450, export_limit_mw=300),
        ]
    )


ENTRY_CODEC: StateCodec[Entry] = StateCodec(
    lambda e: json.dumps(e, separators=(",", ":")).encode(), lambda b: json.loads(b)
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
    ) -> None:
        self.topics = topics
        self.policy = policy
        self.mode = mode
        self.window_ms = window_ms
        self.interconnectors = tuple(interconnectors)
        self.control = CommandQueue()
        self._load_trail = load_trail
        self.webhook = webhook
        self._lock = threading.Lock()
        self._ledger: ActionLedger | None = None
        self._views: dict[int, StateView[Entry]] = {}
        self._clock = 0
        self._outbox: list[OutRecord] = []
        self._mode_restored = False

    def inputs(self) -> Mapping[str, type[Message]]:
        return {
            self.topics.forecasts: forecast_pb2.Forecast,
            self.topics.storage: storage_pb2.StorageSchedule,
            self.topics.anomalies: anomaly_pb2.Anomaly,
            self.topics.alerts: alert_pb2.Alert,
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

    def _merged(self) -> dict[str, Entry]:
        merged: dict[str, Entry] = {}
        for view in self._views.values():
            for key in list(view.keys()):
                value = view.get(key)
                if value is not None:
                    merged[key] = value
        return merged

    @staticmethod
    def _set(state: StateView[Entry], key: str, value: Entry | None) -> None:
        if value is not None:
            state.put(key, value)
        elif state.get(key) is not None:
            state.delete(key)

    def process(self, record: InRecord, state: StateView[Entry]) -> Iterable[OutRecord]:
        self._views[state.partition] = state
        msg = record.value
        region: str | None = None
        ts = 0
        if isinstance(msg, forecast_pb2.Forecast):
            found = forecast_entry(msg)
            if found is None:
                return []
            key, entry = found
            previous = state.get(key)
            if previous is not None and previous["issue_ms"] > entry["issue_ms"]:
                return []  # late, older forecast
            if previous is not None and previous["issue_ms"] < entry["issue_ms"]:
                state.put(key.replace("fc|", "fcprev|", 1), previous)
            state.put(key, entry)
            region, series = key.split("|")[1:]
            ts = msg.issue_time_ms
            if series not in DECIDE_ON:
                region = None
        elif isinstance(msg, storage_pb2.StorageSchedule):
            if not msg.region:
                raise ValidationError(f"storage schedule {msg.schedule_id!r} names no region")
            key, entry = plan_entry(msg)
            state.put(key, entry)
            region, ts = msg.region, msg.issue_time_ms
        elif isinstance(msg, anomaly_pb2.Anomaly):
            for key, value in anomaly_entries(msg):
                self._set(state, key, value)
            ts = msg.ts_ms
        elif isinstance(msg, alert_pb2.Alert):
            key, alert = alert_entry(msg)
            self._set(state, key, alert)
        if ts > self._clock:
            self._clock = ts
            state.put("clock", {"ms": ts})
        return self._decide(region) if region else []

    def _decide(self, region: str) -> list[OutRecord]:
        ledger = self._ledger_ready()
        inputs = policy_inputs(
            region, self._merged(), self._clock, self.window_ms, self.interconnectors
        )
        with self._lock:
            before = ledger.event_count
            recent = ledger.created_since(self._clock - HOUR_MS)
            proposals = self.policy.decide(inputs, self.mode, recent=recent, known=ledger)
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
        for view in self._views.values():
            view.put("mode", {"mode": mode.value})
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
        self._views = dict(states)
        if not self._mode_restored and self._views:
            self._restore_clock_and_mode()
        self.control.run_pending()
        self._changes(lambda ledger: ledger.expire(self._clock))
        out, self._outbox = self._outbox, []
        return out

    def _restore_clock_and_mode(self) -> None:
        self._mode_restored = True
        merged = self._merged()
        self._clock = max(self._clock, int(merged.get("clock", {}).get("ms", 0)))
        saved = merged.get("mode")
        if saved is not None:
            self.mode = Mode(saved["mode"])
            log.info("rebalancer mode %s restored", self.mode.value)

    def on_revoked(self, partitions: list[int]) -> None:
        for p in partitions:
            self._views.pop(p, None)


def build(
    settings: Settings, own: RebalancerSettings | None = None, name: str = SERVICE
) -> ServiceParts:
    """The rebalancer service; ``name`` sets its consumer group and changelog (tests)."""
    own = own or RebalancerSettings()
    config = PolicyConfig(
        snsp_limit=own.snsp_limit,
        demand_response_threshold_mw=own.demand_response_threshold_mw,
        limits=SafetyLimits(max_actions_per_hour=own.max_actions_per_hour),
    )
    links = [
        Interconnector(ic.name, ic.region, ic.import_limit_mw, ic.export_limit_mw, 0.0)
        for ic in own.interconnectors
    ]
    kafka = settings.kafka(client_id=f"{SERVICE}-ledger")
    topic = settings.topics.rebalance

    def load_trail() -> list[RebalanceAction]:
        return [r.value for r in read_topic(kafka, topic, RebalanceAction, timeout_s=120)]

    processor = GridRebalancerProcessor(
        settings.topics,
        RebalancePolicy(config),
        own.mode,
        own.window_minutes * 60_000,
        links,
        load_trail,
        ActionWebhook(own.webhook_url) if own.webhook_url else None,
    )
    router = rebalance_router(processor, settings.control_token)
    parts, _ = runner_service(settings, name, processor, [router])
    return parts
