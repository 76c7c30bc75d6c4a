"""smart-anomaly-detector: every reading of ``ml_ready_data`` -> one ``Anomaly`` verdict.

Consumes ``ml_ready_data`` (FeatureVector) and ``forecast_output`` (Forecast). Both are keyed
by series id with the same partition count, so one series' readings and forecasts meet in
one partition and its state is ordinary keyed state (changelog-backed, exactly once): the
series' :class:`~gridstream.services.anomaly_detector.series.SeriesSlot` (scorer) and its
:class:`~gridstream.services.anomaly_detector.join.SeriesJoin`.

Event-time join: a reading at ``t`` of a forecast series (``forecast_fields``: the fields the
forecaster forecasts) on the quarter-hour is scored against the step for ``t`` of the forecast
with origin exactly ``t - H`` (``GRIDSTREAM_ANOMALY_FORECAST_HORIZON_MINUTES``, 60; the
forecaster issues one forecast per quarter-hour reading, at that reading's time). It waits
for that forecast, or until the series' forecasts are past ``t - H`` (then it never comes: the
verdict's ``forecast_missing`` evidence says so), or until the grace. A reading behind a
waiting one waits too, so each series' verdicts come in time order, whichever way the two
topics interleave, and a replay or a crash gives the same verdicts.

HTTP: ``GET /anomalies?series=ALL/*&limit=50&all=false`` — the latest verdicts.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from google.protobuf.message import Message
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.alignment import STEP_DRIFT_MS, ts_of
from gridstream.bus.anomaly_records import parse_flags, to_anomaly
from gridstream.bus.correlation import correlation_header
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.core.anomaly.explain import duration, horizon
from gridstream.core.anomaly.model import (
    AnomalyResult,
    Evidence,
    ForecastPoint,
    Label,
    QualityFlags,
    Reading,
    Severity,
)
from gridstream.core.anomaly.scorer import DETECTOR_VERSION, ScorerConfig
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.core.cleaning.rules import DEFAULT_RULES
from gridstream.core.features import SLOT_MS
from gridstream.core.features.grid import VECTOR_BATCH
from gridstream.errors import ValidationError
from gridstream.schemas import features_pb2, forecast_pb2
from gridstream.services.anomaly_detector.join import (
    JOIN_SUFFIX,
    MAX_WAITING,
    SeriesJoin,
    Waiting,
    join_key,
)
from gridstream.services.anomaly_detector.series import STATE_CODEC, SeriesSlot
from gridstream.services.base import runner_service
from gridstream.services.forecaster.settings import ForecasterSettings
from gridstream.services.host import ServiceParts

SERVICE = "smart-anomaly-detector"


#: how much longer than the forecaster's trainer grace a reading waits for its forecast
GRACE_MARGIN_HOURS = 24.0


def default_join_grace_hours() -> float:
    """The forecaster's trainer grace (``GRIDSTREAM_FORECASTER_TRAINER_GRACE_HOURS``, 192 h)
    and a day: a forecast of origin ``t`` can come that late, in data time of the readings.

    The forecaster holds a vector up to its grace for a trainer decision; after a hand-over
    (a killed instance's partitions taken over, their backlogs read from the last commit)
    the readings of that span come before the forecasts they are waiting for. With a grace
    shorter than the forecaster's (168 h against 192 h) the oldest of them were judged
    without their forecast in such a run and with it in a clean one.
    """
    return ForecasterSettings().trainer_grace_hours + GRACE_MARGIN_HOURS


class DetectorSettings(BaseSettings):
    """``GRIDSTREAM_ANOMALY_*``: the detector service's own settings."""

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_ANOMALY_", frozen=True, extra="ignore")

    #: score each reading at t against the forecast issued at exactly t minus this
    forecast_horizon_minutes: int = 60
    #: the join's grace in data time: readings of a series waiting longer than this for their
    #: forecast are judged without it. By default a day more than the forecaster may hold a
    #: vector for the trainer's decision (:func:`default_join_grace_hours`), so a forecast it
    #: lets go only at its own grace still comes in time; it still bounds the state when no
    #: forecaster runs (at most 864 quarter-hours per series at the defaults)
    join_grace_hours: float = Field(default_factory=default_join_grace_hours)
    #: verdicts kept per series for GET /anomalies
    recent_per_series: int = 500


class RecentAnomalies:
    """The latest verdicts per series, shared by the worker (writes) and HTTP (reads)."""

    def __init__(self, per_series: int = 500) -> None:
        self._lock = threading.Lock()
        self._per_series = per_series
        self._by_series: dict[str, deque[AnomalyResult]] = {}

    def add(self, result: AnomalyResult) -> None:
        with self._lock:
            ring = self._by_series.get(result.series_id)
            if ring is None:
                ring = self._by_series[result.series_id] = deque(maxlen=self._per_series)
            ring.append(result)

    def latest(self, series: str, limit: int, anomalies_only: bool) -> list[AnomalyResult]:
        with self._lock:
            picked = [
                r
                for sid, ring in self._by_series.items()
                if fnmatch.fnmatchcase(sid, series)
                for r in ring
                if r.is_anomaly or not anomalies_only
            ]
        picked.sort(key=lambda r: (r.ts_ms, r.series_id), reverse=True)
        return picked[:limit]


DetectorState = SeriesSlot | SeriesJoin


class AnomalyDetectorProcessor(Processor[DetectorState]):
    """``forecast_fields``: the fields whose readings wait for their forecast (the service
    passes the forecaster's; empty, the default: every reading is judged at once, forecasts
    unused, as in replays that run no forecaster)."""

    max_batch = VECTOR_BATCH
    align_drift_ms = STEP_DRIFT_MS
    state_codec = STATE_CODEC

    def __init__(
        self,
        topics: TopicNames,
        config: DetectorSettings | None = None,
        recent: RecentAnomalies | None = None,
        scorer_config: ScorerConfig | None = None,
        *,
        forecast_fields: Collection[str] = (),
        clock: str = "event",
        idle_advance_s: float = 30.0,
    ) -> None:
        self.topics = topics
        self.config = config or DetectorSettings()
        self.recent = recent or RecentAnomalies(self.config.recent_per_series)
        self.scorer_config = scorer_config or ScorerConfig()
        self.forecast_fields = frozenset(forecast_fields)
        self.horizon_ms = self.config.forecast_horizon_minutes * 60_000
        self.grace_ms = int(self.config.join_grace_hours * 3_600_000)
        self.live = clock == "live"
        self.idle_advance_s = idle_advance_s
        #: live mode: (partition, join key) -> (forecast watermark, wall ms it was first seen)
        self._idle: dict[tuple[int, str], tuple[int | None, int]] = {}
        self.punctuate_interval_s = 1.0 if self.live else None

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        return {self.topics.ml_ready: ts_of}  # read the series' partitions in step

    def inputs(self) -> Mapping[str, type[Message]]:
        return {
            self.topics.ml_ready: features_pb2.FeatureVector,
            self.topics.forecasts: forecast_pb2.Forecast,
        }

    def process(self, record: InRecord, state: StateView[DetectorState]) -> Iterable[OutRecord]:
        msg = record.value
        if isinstance(msg, forecast_pb2.Forecast):
            return self._on_forecast(msg, record.key, state)
        if not isinstance(msg, features_pb2.FeatureVector):
            raise ValidationError(f"unexpected message {type(msg).__name__}")
        return self._on_features(msg, record.key, record.correlation_id, state)

    @staticmethod
    def _slot(series_id: str, state: StateView[DetectorState]) -> SeriesSlot:
        slot = state.get(series_id)
        return slot if isinstance(slot, SeriesSlot) else SeriesSlot.new(series_id)

    @staticmethod
    def _join(series_id: str, state: StateView[DetectorState]) -> SeriesJoin | None:
        join = state.get(join_key(series_id))
        return join if isinstance(join, SeriesJoin) else None

    def _on_forecast(
        self, msg: forecast_pb2.Forecast, key: str | None, state: StateView[DetectorState]
    ) -> list[OutRecord]:
        series_id = msg.series_id or key or ""
        if "/" not in series_id:
            raise ValidationError(f"forecast without a series id {series_id!r}: set series_id")
        # reject before touching state (nothing is ignored silently); keep only the step for
        # issue + H, the one a reading is judged against
        issue = msg.issue_time_ms
        target = issue + self.horizon_ms
        point: ForecastPoint | None = None
        for step in msg.steps:
            p10, p50, p90 = step.p10, step.p50, step.p90
            if not math.isfinite(p10 + p50 + p90):  # NaN or ±Inf in any of the three
                raise ValidationError(
                    f"forecast {msg.forecast_id!r}: quantiles of the step for "
                    f"{step.target_time_ms} are not finite numbers"
                )
            if step.target_time_ms == target:
                minutes = int(step.horizon_minutes) or self.config.forecast_horizon_minutes
                point = ForecastPoint(p10, p50, p90, minutes, issue)
        if series_id.partition("/")[2] not in self.forecast_fields:
            return []  # no reading of this series waits for a forecast
        join = self._join(series_id, state) or SeriesJoin(series_id)
        if join.watermark is not None and issue <= join.watermark:
            return []  # not newer than one seen: the forecaster issues each origin once
        join.watermark = issue
        slot = state.get(series_id)
        last = slot.last_ts_ms if isinstance(slot, SeriesSlot) else 0
        if point is not None and target > last:
            join.points[target] = point
        outs = self._drain(series_id, join, state, None)
        cutoff = target - self.grace_ms  # forecasts this far ahead of the readings: dropped
        for old in [t for t in join.points if t < cutoff]:
            del join.points[old]
            join.dropped_through = max(join.dropped_through, old)
        state.put(join_key(series_id), join)
        return outs

    def _on_features(
        self,
        msg: features_pb2.FeatureVector,
        key: str | None,
        correlation_id: str,
        state: StateView[DetectorState],
    ) -> list[OutRecord]:
        series_id = msg.series_id or key or ""
        _, _, fld = series_id.partition("/")
        if not fld:
            raise ValidationError(f"feature vector without a series id {series_id!r}")
        if not MIN_TS_MS <= msg.ts_ms < MAX_TS_MS or not math.isfinite(msg.value):
            raise ValidationError(f"{series_id}: bad reading ts={msg.ts_ms} value={msg.value}")
        slot = state.get(series_id)
        join = self._join(series_id, state)
        newest = max(
            slot.last_ts_ms if isinstance(slot, SeriesSlot) else 0,
            join.newest_ms if join is not None else 0,
        )
        if msg.ts_ms <= newest:
            entry = Waiting(msg.ts_ms, msg.value, late_of=newest, correlation_id=correlation_id)
        else:
            flags = parse_flags(msg.flags, msg.features)
            entry = Waiting(
                msg.ts_ms,
                msg.value,
                flags.stuck,
                "SPIKE" in flags.names,
                flags.stuck_intervals,
                flags.gap_before_ms,
                msg.field if msg.field and msg.field != fld else None,
                0,
                correlation_id,
            )
        if join is None and fld not in self.forecast_fields:
            slot_now = self._slot(series_id, state)
            out = self._decide(series_id, slot_now, entry, None, "")
            if not entry.late_of:
                state.put(series_id, slot_now)
            return [out]
        if join is None:
            join = SeriesJoin(series_id)
        if not entry.late_of:
            join.newest_ms = entry.ts_ms
        join.waiting.append(entry)
        outs = self._drain(series_id, join, state, None)
        state.put(join_key(series_id), join)
        return outs

    def _drain(
        self,
        series_id: str,
        join: SeriesJoin,
        state: StateView[DetectorState],
        wall_note: str | None,
    ) -> list[OutRecord]:
        """Judge the waiting readings of a series from the oldest while each can be."""
        fld = series_id.partition("/")[2]
        slot: SeriesSlot | None = None
        outs: list[OutRecord] = []
        waiting, points, h = join.waiting, join.points, self.horizon_ms
        done = 0
        for w in waiting:
            if slot is None:
                slot = self._slot(series_id, state)
            if w.late_of:
                outs.append(self._decide(series_id, slot, w, None, ""))
                done += 1
                continue
            origin = w.ts_ms - h
            point = points.get(w.ts_ms)
            note = ""
            if fld not in self.forecast_fields or origin % SLOT_MS:
                pass  # no forecast is issued for this reading's time
            elif point is not None:
                pass
            elif join.dropped_through >= w.ts_ms:
                note = (
                    f"came more than the grace of {duration(self.grace_ms)} before this "
                    "reading and was dropped"
                )
            elif join.watermark is not None and join.watermark >= origin:
                # (not the watermark's value: when it is read depends on the interleaving)
                note = "never came (this series' forecasts moved past it)"
            elif join.newest_ms - w.ts_ms > self.grace_ms or len(waiting) - done > MAX_WAITING:
                note = f"had not come within the grace of {duration(self.grace_ms)} of readings"
            elif wall_note is not None:
                note = f"had not come; {wall_note}"
            else:
                break
            if note:
                when = horizon(h // 60_000)
                note = f"no {when} forecast: the forecast of origin {_iso(origin)} {note}"
            outs.append(self._decide(series_id, slot, w, point, note))
            for t in [t for t in points if t <= w.ts_ms]:
                del points[t]
            done += 1
        if done:
            del waiting[:done]
            if slot is not None:
                state.put(series_id, slot)
        return outs

    def _decide(
        self,
        series_id: str,
        slot: SeriesSlot,
        w: Waiting,
        forecast: ForecastPoint | None,
        missing: str,
    ) -> OutRecord:
        """The verdict on one reading, in its series' order (scores it unless it is late)."""
        region, _, fld = series_id.partition("/")
        if w.late_of:
            result = _late(series_id, w.ts_ms, w.value, w.late_of)
        else:
            rule = DEFAULT_RULES.get(w.rule_field or fld)
            interval = rule.interval_minutes if rule is not None else 15
            if w.stuck:
                first_run = rule.stuck_intervals if rule is not None else 1
                # the cleaner flags a run once it reaches the field's limit; count on from there
                slot.stuck_run = w.stuck_intervals or max(slot.stuck_run + 1, first_run)
            else:
                slot.stuck_run = 0
            gap_ms = w.gap_before_ms
            if gap_ms is None:
                gap_ms = (
                    max(0, w.ts_ms - slot.last_ts_ms - interval * 60_000) if slot.last_ts_ms else 0
                )
            step, lasted = slot.follow_spike(w.ts_ms, w.value, w.spike)
            quality = QualityFlags(w.stuck, slot.stuck_run, gap_ms, interval, step, lasted)
            unit = rule.unit if rule is not None else ""
            reading = Reading(series_id, w.ts_ms, w.value, unit)
            result = slot.scorer.score(reading, forecast, quality, self.scorer_config)
            if missing:
                evidence = (*result.evidence, Evidence("forecast_missing", 0.0, missing))
                result = dataclasses.replace(result, evidence=evidence)
            slot.last_ts_ms = w.ts_ms
        self.recent.add(result)
        headers = (correlation_header(w.correlation_id),) if w.correlation_id else ()
        return OutRecord(self.topics.anomalies, series_id, to_anomaly(result, region, fld), headers)

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[DetectorState]]
    ) -> Iterable[OutRecord]:
        """Live clock only: judge the waiting readings of a series whose forecasts have not
        moved for ``idle_advance_s`` wall seconds, each saying so."""
        if not self.live:
            return []
        outs: list[OutRecord] = []
        idle_ms = int(self.idle_advance_s * 1000)
        note = f"moved on by the wall clock: {self.topics.forecasts} idle {self.idle_advance_s:g} s"
        for part, state in states.items():
            keys = state.keys()  # a StateView is not iterable itself
            for key in [k for k in keys if k.endswith(JOIN_SUFFIX)]:
                join = state.get(key)
                if not isinstance(join, SeriesJoin) or not join.waiting:
                    self._idle.pop((part, key), None)
                    continue
                seen = self._idle.get((part, key))
                if seen is None or seen[0] != join.watermark:
                    self._idle[(part, key)] = (join.watermark, now_ms)
                    continue
                if now_ms - seen[1] >= idle_ms:
                    outs += self._drain(join.series_id, join, state, note)
                    state.put(key, join)
        return outs

    def on_revoked(self, partitions: list[int]) -> None:
        for part, key in [k for k in self._idle if k[0] in partitions]:
            del self._idle[(part, key)]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _late(series_id: str, ts_ms: int, value: float, last_ts_ms: int) -> AnomalyResult:
    """A reading older than one already judged: reported, not scored (scoring is causal)."""
    detail = f"late reading: older than the last judged one ({last_ts_ms}); not scored"
    return AnomalyResult(
        series_id,
        ts_ms,
        value,
        0.0,
        False,
        Label.NORMAL,
        Severity.INFO,
        detail,
        (Evidence("data_quality", 0.0, detail),),
        DETECTOR_VERSION,
    )


def _as_json(result: AnomalyResult) -> dict[str, Any]:
    return {
        "series_id": result.series_id,
        "ts_ms": result.ts_ms,
        "value": result.value,
        "score": round(result.score, 4),
        "is_anomaly": result.is_anomaly,
        "label": result.label.value,
        "severity": result.severity.value,
        "explanation": result.explanation,
        "evidence": [
            {"kind": e.kind, "score": round(e.score, 4), "detail": e.detail}
            for e in result.evidence
        ],
    }


def anomalies_router(recent: RecentAnomalies) -> APIRouter:
    router = APIRouter(tags=["anomalies"])

    @router.get("/anomalies", summary="The latest anomaly verdicts, newest first")
    def get_anomalies(
        series: str = Query("*", description="series id or glob, e.g. ALL/SYSTEM_DEMAND, ALL/*"),
        limit: int = Query(100, ge=1, le=1000),
        all: bool = Query(False, description="include normal readings, not only anomalies"),
    ) -> list[dict[str, Any]]:
        return [_as_json(r) for r in recent.latest(series, limit, anomalies_only=not all)]

    return router


def build(settings: Settings) -> ServiceParts:
    config = DetectorSettings()
    recent = RecentAnomalies(config.recent_per_series)
    processor = AnomalyDetectorProcessor(
        settings.topics,
        config,
        recent,
        forecast_fields=ForecasterSettings().field_set(),
        clock=settings.clock,
        idle_advance_s=settings.idle_advance_s,
    )
    parts, _ = runner_service(settings, SERVICE, processor, [anomalies_router(recent)])
    return parts
