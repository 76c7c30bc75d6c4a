"""A benchmark result beside an earlier one: the headline figures, before and after.

``gridstream bench --baseline old.json`` prints this table after its own, so a change to the
pipeline is judged on the same machine, data and options as the run it claims to improve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridstream.bench.processes import BROKER


def service_cpu_ms_per_reading(result: dict[str, Any]) -> float | None:
    """Service CPU (the broker left out) in the throughput phase, per raw reading, in ms."""
    readings = int(result.get("raw_readings") or 0)
    cpu: dict[str, float] = result.get("pipeline_cpu_s") or {}
    if not readings or not cpu:
        return None
    spent = sum(float(v) for k, v in cpu.items() if k != BROKER)
    return round(1000.0 * spent / readings, 3)


def streaming_cpu_ms_per_reading(result: dict[str, Any]) -> float | None:
    """:func:`service_cpu_ms_per_reading` less the trainer's model work (its decisions and
    trainings, which follow the retraining schedule, not the readings)."""
    total = service_cpu_ms_per_reading(result)
    model = result.get("trainer_model_cpu_s")
    readings = int(result.get("raw_readings") or 0)
    if total is None or model is None or not readings:
        return None
    return round(total - 1000.0 * float(model) / readings, 3)


def _max_rss(result: dict[str, Any]) -> float | None:
    peaks = [v for v in (result.get("peak_rss_mb") or {}).values() if v is not None]
    return float(max(peaks)) if peaks else None


def _p99(stage: str) -> Any:
    return lambda r: (r.get("latency_ms_p99") or {}).get(stage)


@dataclass(frozen=True)
class Row:
    measure: str
    before: float | None
    after: float | None
    #: True when a larger figure is better (throughput), False when smaller is (latency, CPU)
    higher_is_better: bool

    @property
    def factor(self) -> float | None:
        """after / before: ×3 means three times the throughput, ×0.5 half the latency."""
        if self.before is None or self.before == 0 or self.after is None:
            return None
        return round(self.after / self.before, 2)

    @property
    def better(self) -> bool | None:
        if self.before is None or self.after is None or self.after == self.before:
            return None
        return (self.after > self.before) == self.higher_is_better


MEASURES: tuple[tuple[str, Any, bool], ...] = (
    ("readings/s end to end", lambda r: r.get("readings_per_s"), True),
    ("ratio to broker-bound limit", lambda r: r.get("ratio_to_broker_bound"), True),
    ("service CPU ms per reading", service_cpu_ms_per_reading, False),
    ("  less the trainer's model work", streaming_cpu_ms_per_reading, False),
    ("p99 reading→forecast ms", _p99("forecast"), False),
    ("p99 reading→action ms", _p99("action"), False),
    ("largest peak RSS MB", _max_rss, False),
)


def compare(after: dict[str, Any], before: dict[str, Any]) -> list[Row]:
    """The headline measures, then each process's CPU seconds in the throughput phase."""
    rows = [Row(name, get(before), get(after), up) for name, get, up in MEASURES]
    cpu_after = after.get("pipeline_cpu_s") or {}
    cpu_before = before.get("pipeline_cpu_s") or {}
    for name in sorted({*cpu_after, *cpu_before}, key=lambda n: -cpu_before.get(n, 0.0)):
        rows.append(Row(f"CPU s: {name}", cpu_before.get(name), cpu_after.get(name), False))
    return rows


def comparison_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "measure": r.measure,
            "before": r.before,
            "after": r.after,
            "factor": r.factor,
            "better": r.better,
        }
        for r in rows
    ]


def same_setup(after: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """What differs between the two runs' data and options (empty when they compare)."""
    keys = ("span", "series", "expected_readings", "latency_rate_per_s")
    differs = [k for k in keys if after.get(k) != before.get(k)]
    # runs from before these options existed had three partitions and one instance each
    for key, default in (("partitions", 3), ("instances", {})):
        if after.get(key, default) != before.get(key, default):
            differs.append(key)
    return differs
