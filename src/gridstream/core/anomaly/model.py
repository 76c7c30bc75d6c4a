"""Inputs and outputs of anomaly scoring, as plain typed values (no protobuf, no Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Label(StrEnum):
    NORMAL = "normal"
    SPIKE = "spike"
    DIP = "dip"
    STUCK = "stuck"
    GAP = "gap"
    FORECAST_MISS = "forecast_miss"


@dataclass(frozen=True)
class Reading:
    """One clean reading of one series (``series_id`` is ``"{region}/{field}"``)."""

    series_id: str
    ts_ms: int
    value: float
    unit: str = "MW"

    @property
    def field(self) -> str:
        return self.series_id.split("/", 1)[-1]


@dataclass(frozen=True)
class ForecastPoint:
    """The forecast issued earlier for this reading's time: quantiles and horizon."""

    p10: float
    p50: float
    p90: float
    horizon_minutes: int
    issue_time_ms: int = 0


@dataclass(frozen=True)
class QualityFlags:
    """The preprocessor's data-quality verdict on the reading."""

    stuck: bool = False
    stuck_intervals: int = 0
    gap_before_ms: int = 0
    interval_minutes: int = 15
    #: a spike that has just fallen back: its step from the level before it (0: none) ...
    spike_step: float = 0.0
    #: ... and how long it lasted
    spike_ms: int = 0


@dataclass(frozen=True)
class Evidence:
    """One line of evidence: its kind, its score in [0, 1] and a readable detail."""

    kind: str  # forecast_residual, streaming_detector, data_quality
    score: float
    detail: str
    label: Label = Label.NORMAL


@dataclass(frozen=True)
class AnomalyResult:
    """The verdict on one reading."""

    series_id: str
    ts_ms: int
    value: float
    score: float
    is_anomaly: bool
    label: Label
    severity: Severity
    explanation: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    detector_version: str = ""
