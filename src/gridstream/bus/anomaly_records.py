"""Between bus messages and the anomaly core's plain values (both directions).

* quality flags: a ``FeatureVector`` carries the clean reading's flags as strings; the
  enum names (``QUALITY_FLAG_STUCK``), short names (``STUCK``/``stuck``) and ``name=value``
  details (``stuck_intervals=12``, ``gap_before_ms=1800000``) are all understood;
* ``AnomalyResult`` -> ``Anomaly`` for ``anomaly_output``, and back for the alert engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gridstream.core.anomaly.model import AnomalyResult, Evidence, Label, Severity
from gridstream.schemas import anomaly_pb2, common_pb2

_SEVERITY_TO_PB = {
    Severity.INFO: common_pb2.SEVERITY_INFO,
    Severity.WARNING: common_pb2.SEVERITY_WARNING,
    Severity.CRITICAL: common_pb2.SEVERITY_CRITICAL,
}
_PB_TO_SEVERITY = {v: k for k, v in _SEVERITY_TO_PB.items()}


@dataclass(frozen=True)
class ParsedFlags:
    """What the flags of one reading say (``None``: the detail was not carried)."""

    names: frozenset[str]
    stuck_intervals: int | None = None
    gap_before_ms: int | None = None

    @property
    def stuck(self) -> bool:
        return "STUCK" in self.names

    @property
    def gap(self) -> bool:
        return "GAP_BEFORE" in self.names


def parse_flags(flags: Iterable[str], features: Mapping[str, float] | None = None) -> ParsedFlags:
    """Normalise flag strings; details may also come as features of the same name."""
    names: set[str] = set()
    details: dict[str, int] = {}
    for raw in flags:
        text = raw.strip()
        if "=" in text:
            key, _, value = text.partition("=")
            try:
                details[key.strip().lower()] = int(float(value))
            except ValueError:
                continue
            continue
        name = text.upper().removeprefix("QUALITY_FLAG_")
        if name:
            names.add(name)
    for key in ("stuck_intervals", "gap_before_ms"):
        if key not in details and features is not None and key in features:
            number = features[key]
            if number == number:  # not NaN
                details[key] = int(number)
    return ParsedFlags(
        frozenset(names), details.get("stuck_intervals"), details.get("gap_before_ms")
    )


def to_anomaly(result: AnomalyResult, region: str, field: str) -> anomaly_pb2.Anomaly:
    return anomaly_pb2.Anomaly(
        record_id=f"{result.series_id}@{result.ts_ms}",
        series_id=result.series_id,
        region=region,
        field=field,
        ts_ms=result.ts_ms,
        value=result.value,
        score=result.score,
        is_anomaly=result.is_anomaly,
        label=result.label.value,
        severity=_SEVERITY_TO_PB[result.severity],
        explanation=result.explanation,
        evidence=[
            anomaly_pb2.AnomalyEvidence(kind=e.kind, score=e.score, detail=e.detail)
            for e in result.evidence
        ],
        detector_version=result.detector_version,
    )


def from_anomaly(msg: anomaly_pb2.Anomaly) -> AnomalyResult:
    """The core's view of an ``Anomaly`` record (unknown labels read as ``spike``)."""
    try:
        label = Label(msg.label or "normal")
    except ValueError:
        label = Label.SPIKE if msg.is_anomaly else Label.NORMAL
    return AnomalyResult(
        series_id=msg.series_id,
        ts_ms=msg.ts_ms,
        value=msg.value,
        score=msg.score,
        is_anomaly=msg.is_anomaly,
        label=label,
        severity=_PB_TO_SEVERITY.get(msg.severity, Severity.INFO),
        explanation=msg.explanation,
        evidence=tuple(Evidence(e.kind, e.score, e.detail) for e in msg.evidence),
        detector_version=msg.detector_version,
    )
