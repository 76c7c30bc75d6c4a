"""smart-ml-forecaster: ``ml_ready_data`` + ``model_updates`` -> ``forecast_output``.

Every feature vector of a forecast series (demand, wind and CO2 intensity of each region, and
SNSP; ``GRIDSTREAM_FORECASTER_FIELDS``) that sits on a quarter-hour issues one 24 h
P10/P50/P90 forecast (96 steps), keyed by series id, with the model version; a vector at or
before the last issue time of its series (a duplicate or late reading) issues nothing, so
forecasts of a series are strictly ordered.
The last issue time per series is keyed state (changelog, exactly once).

Models: the current version per series is loaded lazily from the registry
(``<state_dir>/models``); until one exists forecasts are ``seasonal-naive``, labelled so.
``model_updates`` is keyed by series id like the vectors, so an update lands in the same
partition as that series' vectors and is applied between them in offset order: vectors
read before it use the old model, vectors after it the new one; nothing is dropped. An
update whose model cannot be loaded is dead-lettered and the old model stays; one with an
empty version (the trainer's "no model yet" decision) installs nothing.

Throughput: vectors are collected during a Kafka batch and forecast at its end (punctuate,
same transaction) with one ``forecast_many`` call per model.

HTTP: ``GET /forecast?series=ALL/SYSTEM_DEMAND`` — the latest forecast of a series;
``GET /forecast/models`` — the model version applied per series.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from google.protobuf.message import Message

from gridstream.bus.alignment import STEP_DRIFT_MS, ts_of
from gridstream.bus.correlation import correlation_header
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateCodec, StateView
from gridstream.config import Settings
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.core.features import SLOT_MS
from gridstream.core.features.grid import VECTOR_BATCH
from gridstream.core.forecasting.model_schedule import ModelSchedule
from gridstream.errors import GridstreamError, ValidationError
from gridstream.schemas import features_pb2, forecast_pb2, model_pb2
from gridstream.services.base import make_runner
from gridstream.services.forecaster import model_join
from gridstream.services.forecaster.batch import Issue, ModelBook, forecast_batch
from gridstream.services.forecaster.feature_vector import vector_values
from gridstream.services.forecaster.model_join import State, Timeline, Waiting
from gridstream.services.forecaster.settings import ForecasterSettings
from gridstream.services.host import ServiceParts

SERVICE = "smart-ml-forecaster"
log = logging.getLogger(__name__)


class LatestForecasts:
    """The latest forecast per series, written by the worker and read by HTTP."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_series: dict[str, forecast_pb2.Forecast] = {}
        self.models: dict[str, str | None] = {}

    def put(
        self, forecasts: Iterable[forecast_pb2.Forecast], models: dict[str, str | None]
    ) -> None:
        with self._lock:
            for f in forecasts:
                self._by_series[f.series_id] = f
            self.models = dict(models)

    def get(self, series_id: str) -> forecast_pb2.Forecast | None:
        with self._lock:
            return self._by_series.get(series_id)

    def series(self) -> list[str]:
        with self._lock:
            return sorted(self._by_series)


class ForecasterProcessor(Processor[State]):
    align_drift_ms = STEP_DRIFT_MS
    max_batch = VECTOR_BATCH
    state_codec: StateCodec[State] = model_join.STATE_CODEC
    punctuate_interval_s = 0.0  # forecast what the batch collected, inside its transaction

    def __init__(
        self,
        settings: Settings,
        config: ForecasterSettings | None = None,
        latest: LatestForecasts | None = None,
    ) -> None:
        self.topics = settings.topics
        self.config = config or ForecasterSettings()
        self.fields = self.config.field_set()
        self.models = ModelBook(settings.state_dir / "models")
        self.latest = latest or LatestForecasts()
        self._pending: dict[str, Issue] = {}  # forecast id -> issue, in arrival order
        self.clock = settings.clock
        self.idle_advance_s = settings.idle_advance_s
        self.schedule = ModelSchedule()
        self.trained = self.schedule.series_ids() if self.config.follow_trainer else frozenset()
        self.grace_ms = int(self.config.trainer_grace_hours * 3_600_000)
        self._waiting: dict[int, dict[str, list[int]]] = {}  # partition -> series -> ts waiting
        self._last_update_wall = time.monotonic()

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        return {self.topics.ml_ready: ts_of}  # read the series' partitions in step

    def inputs(self) -> Mapping[str, type[Message]]:
        return {
            self.topics.ml_ready: features_pb2.FeatureVector,
            self.topics.model_updates: model_pb2.ModelUpdate,
        }

    def process(self, record: InRecord, state: StateView[State]) -> Iterable[OutRecord]:
        msg = record.value
        if isinstance(msg, model_pb2.ModelUpdate):
            self._on_update(msg, record.key, state)
            return []
        assert isinstance(msg, features_pb2.FeatureVector)
        sid = msg.series_id or record.key or ""
        region, _, fld = sid.partition("/")
        if not fld:
            raise ValidationError(f"feature vector without a series id {sid!r}")
        if not MIN_TS_MS <= msg.ts_ms < MAX_TS_MS:  # one from year 2999 would mute the series
            raise ValidationError(f"{sid}: feature vector time {msg.ts_ms} ms is not plausible")
        if fld not in self.fields or msg.ts_ms % SLOT_MS:
            return []  # not forecast, or off the quarter-hour
        values = vector_values(msg)
        if values is None:
            return []  # a late value-only vector
        last = state.get(sid)
        if isinstance(last, int) and msg.ts_ms <= last:
            return []
        state.put(sid, msg.ts_ms)
        if sid not in self.trained:
            model = self.models.get(sid)
            self._issue(Issue(sid, region, fld, msg.ts_ms, values, model, record.correlation_id))
            return []
        timeline = self._timeline(sid, msg.ts_ms, state)
        waiting = self._waiting_of(state).setdefault(sid, [])
        if not waiting and timeline.ready(self.schedule.serving(msg.ts_ms)):
            self._issue_at(sid, msg.ts_ms, values, record.correlation_id, timeline)
            return []
        state.put(model_join.wait_key(sid, msg.ts_ms), Waiting(values, record.correlation_id))
        waiting.append(msg.ts_ms)
        self._release(sid, timeline, state)
        return []

    def _issue(self, issue: Issue) -> None:
        self._pending[f"{issue.series_id}@{issue.issue_ts_ms}"] = issue

    def _issue_at(
        self, sid: str, ts_ms: int, values: Any, correlation_id: str, timeline: Timeline
    ) -> None:
        region, _, fld = sid.partition("/")
        version = timeline.version_at(self.schedule.serving(ts_ms))
        try:
            model = self.models.at(sid, version)
        except GridstreamError as exc:
            log.warning("%s: model %s cannot be loaded (%s); seasonal-naive", sid, version, exc)
            model = None
        self._issue(Issue(sid, region, fld, ts_ms, values, model, correlation_id))

    def _timeline(self, sid: str, ts_ms: int, state: StateView[State]) -> Timeline:
        key = model_join.TIMELINE_PREFIX + sid
        found = state.get(key)
        if isinstance(found, Timeline):
            return found
        current = self.models.get(sid)  # the registry's, before any decision of this stream
        timeline = Timeline(ts_ms, current.version if current is not None else "")
        state.put(key, timeline)
        return timeline

    def _waiting_of(self, state: StateView[State]) -> dict[str, list[int]]:
        """Per series, the origins waiting in this partition's state (indexed once)."""
        found = self._waiting.get(state.partition)
        if found is None:
            found = {}
            keys = state.keys()
            for key in sorted(k for k in keys if k.startswith(model_join.WAIT_PREFIX)):
                sid, ts = model_join.parse_wait_key(key)
                found.setdefault(sid, []).append(ts)
            self._waiting[state.partition] = found
        return found

    def _release(
        self, sid: str, timeline: Timeline, state: StateView[State], force: str = ""
    ) -> None:
        """Forecast the series' waiting vectors whose decision is in (in origin order); past
        the grace, or with ``force`` (why), the oldest go with the model in force."""
        waiting = self._waiting_of(state).get(sid, [])
        while waiting:
            ts = waiting[0]
            ready = timeline.ready(self.schedule.serving(ts))
            late = waiting[-1] - ts > self.grace_ms
            if not (ready or late or force):
                break
            if not ready:
                log.warning(
                    "%s@%d: forecast without the trainer's decision for %d (%s)",
                    sid,
                    ts,
                    self.schedule.serving(ts),
                    force or f"waited past the grace of {self.config.trainer_grace_hours:g} h",
                )
            key = model_join.wait_key(sid, ts)
            parked = state.get(key)
            waiting.pop(0)
            state.delete(key)
            if isinstance(parked, Waiting):
                self._issue_at(sid, ts, parked.values, parked.correlation_id, timeline)

    def _on_update(
        self, msg: model_pb2.ModelUpdate, key: str | None, state: StateView[State]
    ) -> None:
        sid = msg.series_id or key or ""
        self._last_update_wall = time.monotonic()
        if sid in self.trained:
            if "/" not in sid or msg.train_until_ms <= 0:
                raise ValidationError(f"model update without series id or data end: {sid!r}")
            if msg.model_version:
                self._check_loadable(sid, msg.model_version)
            timeline = self._timeline(sid, msg.train_until_ms, state)
            if timeline.add(msg.train_until_ms, msg.model_version):
                state.put(model_join.TIMELINE_PREFIX + sid, timeline)
            self._release(sid, timeline, state)
            return
        if "/" not in sid:
            raise ValidationError(f"model update without series id: {sid!r}")
        if not msg.model_version:
            return  # the trainer's "no model yet": nothing to install
        try:
            self.models.install(sid, msg.model_version)
        except GridstreamError as exc:
            raise ValidationError(
                f"cannot load {sid}@{msg.model_version}: {exc}; keeping the previous model"
            ) from exc

    def _check_loadable(self, sid: str, version: str) -> None:
        try:
            self.models.at(sid, version)
        except GridstreamError as exc:
            raise ValidationError(
                f"cannot load {sid}@{version}: {exc}; keeping the previous model"
            ) from exc

    def punctuate(self, now_ms: int, states: Mapping[int, StateView[State]]) -> Iterable[OutRecord]:
        if self.clock == "live" and time.monotonic() - self._last_update_wall > self.idle_advance_s:
            self._release_idle(states)
        if not self._pending:
            return []
        issues = list(self._pending.values())
        self._pending.clear()
        forecasts = forecast_batch(issues, self.config.threads)
        self.latest.put(forecasts, self.models.versions())
        return [
            OutRecord(
                self.topics.forecasts, f.series_id, f, (correlation_header(i.correlation_id),)
            )
            for i, f in zip(issues, forecasts, strict=True)
        ]

    def _release_idle(self, states: Mapping[int, StateView[State]]) -> None:
        """Live feed, trainer quiet: the waiting vectors go with the model in force."""
        for state in states.values():
            for sid, waiting in list(self._waiting_of(state).items()):
                if not waiting:
                    continue
                found = state.get(model_join.TIMELINE_PREFIX + sid)
                if isinstance(found, Timeline):
                    idle = (
                        f"moved on by the wall clock: model_updates idle {self.idle_advance_s:g} s"
                    )
                    self._release(sid, found, state, force=idle)

    def on_revoked(self, partitions: list[int]) -> None:
        self._pending.clear()  # not committed: the next owner re-reads those vectors
        for p in partitions:
            self._waiting.pop(p, None)


def forecast_json(msg: forecast_pb2.Forecast) -> dict[str, Any]:
    return {
        "forecast_id": msg.forecast_id,
        "series_id": msg.series_id,
        "issue_time_ms": msg.issue_time_ms,
        "model_version": msg.model_version,
        "model_kind": msg.model_kind,
        "unit": msg.unit,
        "steps": [
            {
                "target_time_ms": s.target_time_ms,
                "horizon_minutes": s.horizon_minutes,
                "p10": s.p10,
                "p50": s.p50,
                "p90": s.p90,
            }
            for s in msg.steps
        ],
    }


def forecast_router(latest: LatestForecasts) -> APIRouter:
    router = APIRouter(tags=["forecasts"])

    @router.get("/forecast", summary="The latest forecast of a series")
    def get_forecast(
        series: str = Query(..., description="series id, e.g. ALL/SYSTEM_DEMAND"),
    ) -> dict[str, Any]:
        msg = latest.get(series)
        if msg is None:
            known = ", ".join(latest.series()) or "none yet"
            raise HTTPException(404, f"no forecast for {series!r}; series with forecasts: {known}")
        return forecast_json(msg)

    @router.get("/forecast/models", summary="The model version applied per series")
    def get_models() -> dict[str, str | None]:
        return dict(latest.models)

    return router


def forecaster_runner(
    settings: Settings, group: str | None = None, latest: LatestForecasts | None = None
) -> Runner[State]:
    """The service's runner; ``group`` isolates offsets and state (tests, tools)."""
    # where the models predict through LightGBM (no C compiler for the tree kernel), its idle
    # OpenMP threads sleep instead of spinning on shared cores (set before it is imported)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    processor = ForecasterProcessor(settings, latest=latest)
    return make_runner(settings, SERVICE, processor, group=group)


def build(settings: Settings) -> ServiceParts:
    latest = LatestForecasts()
    runner = forecaster_runner(settings, latest=latest)
    return ServiceParts(
        name=SERVICE,
        worker=runner,
        health=runner.health.snapshot,
        registry=runner.registry,
        routers=[forecast_router(latest)],
    )
