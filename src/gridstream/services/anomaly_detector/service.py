"""smart-anomaly-detector: every reading of ``ml_ready_data`` -> one ``Anomaly`` verdict.

Consumes ``ml_ready_data`` (FeatureVector) and ``forecast_output`` (Forecast). Both are keyed
by series id with the same partition count, so one series' readings and forecasts meet in
one partition and its :class:`~gridstream.services.anomaly_detector.series.SeriesSlot` is ordinary
keyed state (changelog-backed, exactly once). Forecast steps for future target times wait
in the slot; when the reading for a target arrives it is scored against the step issued at
least ``GRIDSTREAM_ANOMALY_FORECAST_HORIZON_MINUTES`` earlier (causal: only data up to t).

HTTP: ``GET /anomalies?series=ALL/*&limit=50&all=false`` — the latest verdicts.
"""

from __future__ import annotations

import fnmatch
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Query
from google.protobuf.message import Message
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.anomaly_records import parse_flags, to_anomaly
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.state import StateCodec, StateView
from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
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
from gridstream.core.features.grid import VECTOR_BATCH
from gridstream.errors import ValidationError
from gridstream.schemas import features_pb2, forecast_pb2
from gridstream.services.anomaly_detector.series import SeriesSlot, slot_from_bytes, slot_to_bytes
from gridstream.services.base import runner_service
from gridstream.services.host import ServiceParts

SERVICE = "smart-anomaly-detector"


class DetectorSettings(BaseSettings):
    """``GRIDSTREAM_ANOMALY_*``: the detector service's own settings."""

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_ANOMALY_", frozen=True, extra="ignore")

    #: score each reading against the forecast issued at least this long before it
    forecast_horizon_minutes: int = 60
    #: forecast steps further ahead than the preferred horizon plus this are not remembered
    #: (a newer forecast has a closer step for them); the fallback when forecasts stop
    forecast_slack_minutes: int = 60
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


class AnomalyDetectorProcessor(Processor[SeriesSlot]):
    max_batch = VECTOR_BATCH
    state_codec = StateCodec(slot_to_bytes, slot_from_bytes)

    def __init__(
        self,
        topics: TopicNames,
        config: DetectorSettings | None = None,
        recent: RecentAnomalies | None = None,
        scorer_config: ScorerConfig | None = None,
    ) -> None:
        self.topics = topics
        self.config = config or DetectorSettings()
        self.recent = recent or RecentAnomalies(self.config.recent_per_series)
        self.scorer_config = scorer_config or ScorerConfig()

    def inputs(self) -> Mapping[str, type[Message]]:
        return {
            self.topics.ml_ready: features_pb2.FeatureVector,
            self.topics.forecasts: forecast_pb2.Forecast,
        }

    def process(self, record: InRecord, state: StateView[SeriesSlot]) -> Iterable[OutRecord]:
        msg = record.value
        if isinstance(msg, forecast_pb2.Forecast):
            self._on_forecast(msg, record.key, state)
            return []
        if not isinstance(msg, features_pb2.FeatureVector):
            raise ValidationError(f"unexpected message {type(msg).__name__}")
        return [self._on_features(msg, record.key, state)]

    @staticmethod
    def _slot(series_id: str, state: StateView[SeriesSlot]) -> SeriesSlot:
        slot = state.get(series_id)
        return slot if slot is not None else SeriesSlot.new(series_id)

    def _on_forecast(
        self, msg: forecast_pb2.Forecast, key: str | None, state: StateView[SeriesSlot]
    ) -> None:
        series_id = msg.series_id or key or ""
        if "/" not in series_id:
            raise ValidationError(f"forecast without a series id {series_id!r}: set series_id")
        # One pass: reject before touching state (nothing is ignored silently), and keep only
        # the steps that can end up as a reading's residual: those at most an hour beyond the
        # preferred horizon. A later forecast brings a closer step for every other target, so
        # offering the whole day would cost 96 comparisons and a 96-entry state per forecast.
        preferred = self.config.forecast_horizon_minutes
        limit = preferred + self.config.forecast_slack_minutes
        issue = msg.issue_time_ms
        useful: list[tuple[int, ForecastPoint]] = []
        for step in msg.steps:
            p10, p50, p90 = step.p10, step.p50, step.p90
            if not math.isfinite(p10 + p50 + p90):  # NaN or ±Inf in any of the three
                raise ValidationError(
                    f"forecast {msg.forecast_id!r}: quantiles of the step for "
                    f"{step.target_time_ms} are not finite numbers"
                )
            target = step.target_time_ms
            minutes = int(step.horizon_minutes) or int((target - issue) // 60_000)
            if minutes <= limit:
                useful.append((target, ForecastPoint(p10, p50, p90, minutes, issue)))
        slot = self._slot(series_id, state)
        kept = False
        for target, point in useful:
            kept |= slot.offer(target, point, preferred)
        if kept:
            state.put(series_id, slot)

    def _on_features(
        self, msg: features_pb2.FeatureVector, key: str | None, state: StateView[SeriesSlot]
    ) -> OutRecord:
        series_id = msg.series_id or key or ""
        region, _, field = series_id.partition("/")
        if not field:
            raise ValidationError(f"feature vector without a series id {series_id!r}")
        if not MIN_TS_MS <= msg.ts_ms < MAX_TS_MS or not math.isfinite(msg.value):
            raise ValidationError(f"{series_id}: bad reading ts={msg.ts_ms} value={msg.value}")
        rule = DEFAULT_RULES.get(msg.field or field)
        interval = rule.interval_minutes if rule is not None else 15
        slot = self._slot(series_id, state)
        if msg.ts_ms <= slot.last_ts_ms:
            result = _late(series_id, msg.ts_ms, msg.value, slot.last_ts_ms)
        else:
            flags = parse_flags(msg.flags, msg.features)
            if flags.stuck:
                first_run = rule.stuck_intervals if rule is not None else 1
                # the cleaner flags a run once it reaches the field's limit; count on from there
                slot.stuck_run = flags.stuck_intervals or max(slot.stuck_run + 1, first_run)
            else:
                slot.stuck_run = 0
            gap_ms = flags.gap_before_ms
            if gap_ms is None:
                gap_ms = (
                    max(0, msg.ts_ms - slot.last_ts_ms - interval * 60_000)
                    if slot.last_ts_ms
                    else 0
                )
            step, lasted = slot.follow_spike(msg.ts_ms, msg.value, "SPIKE" in flags.names)
            quality = QualityFlags(flags.stuck, slot.stuck_run, gap_ms, interval, step, lasted)
            unit = rule.unit if rule is not None else ""
            reading = Reading(series_id, msg.ts_ms, msg.value, unit)
            forecast = slot.take(msg.ts_ms)
            result = slot.scorer.score(reading, forecast, quality, self.scorer_config)
            slot.last_ts_ms = msg.ts_ms
            state.put(series_id, slot)
        self.recent.add(result)
        return OutRecord(self.topics.anomalies, series_id, to_anomaly(result, region, field))


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
    processor = AnomalyDetectorProcessor(settings.topics, config, recent)
    parts, _ = runner_service(settings, SERVICE, processor, [anomalies_router(recent)])
    return parts
