"""Validation rules per EirGrid field: unit, interval, physical range, flatline and spike limits.

Ranges are physical plausibility, not statistics: demand and generation 0-10 GW, CO2
intensity 0-1500 g/kWh, SNSP 0-100 %, interconnector flows signed, wind a little negative
(station consumption on calm days; the recorded minimum is about -60 MW).

Stuck limits are time spans. Demand, generation, wind, CO2 and SNSP are flagged after an
hour of identical readings (the first and four repeats, :data:`HOUR_OF_READINGS`): in the
recorded 2014-2022 data all-island demand held a value that long 13 times in 108 months, each
time together with generation and wind, i.e. a frozen feed, and CO2 intensity 10 times. A
limit of 8 readings flagged the frozen feed of 9 Sep 2020 only 105 min after it froze.
Interconnectors legitimately hold a scheduled flow (or zero) for hours, so they are flagged
only after a day: EWIC held a value for 12 h or more 36 times a month, for a day 0.6 times.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridstream.errors import ValidationError
from gridstream.sources.catalogue import CATALOGUE, REGIONS, SeriesSpec

#: a value held for an hour of quarter-hours: the first reading and four repeats
HOUR_OF_READINGS = 5
#: a day of quarter-hours
DAY_OF_READINGS = 96


class InvalidReading(ValidationError):
    """A reading that must go to the dead-letter topic; ``reason`` is a short machine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SeriesRule:
    """How readings of one field are validated and flagged."""

    field: str
    unit: str
    interval_minutes: int
    min_value: float
    max_value: float
    stuck_intervals: int = HOUR_OF_READINGS
    spike_factor: float = 12.0
    spike_floor: float = 300.0

    @property
    def interval_ms(self) -> int:
        return self.interval_minutes * 60_000


H, D = HOUR_OF_READINGS, DAY_OF_READINGS

# field -> (min, max, stuck_intervals, spike_floor)
_LIMITS: dict[str, tuple[float, float, int, float]] = {
    "SYSTEM_DEMAND": (0.0, 10_000.0, H, 300.0),
    "DEMAND_FORECAST_VALUE": (0.0, 10_000.0, H, 300.0),
    "GEN_EXP": (0.0, 10_000.0, H, 300.0),
    "WIND_ACTUAL": (-150.0, 10_000.0, H, 300.0),
    "WIND_FCAST": (-150.0, 10_000.0, H, 300.0),
    "SOLAR_ACTUAL": (-50.0, 10_000.0, D, 300.0),
    "SOLAR_FCAST": (-50.0, 10_000.0, D, 300.0),
    "CO2_INTENSITY": (0.0, 1_500.0, H, 100.0),
    "CO2_EMISSIONS": (0.0, 10_000.0, H, 300.0),
    "SNSP_ALL": (0.0, 100.0, H, 20.0),
    "INTER_NET": (-3_000.0, 3_000.0, D, 600.0),
    "INTER_EWIC": (-1_500.0, 1_500.0, D, 600.0),
    "INTER_GRNLK": (-1_500.0, 1_500.0, D, 600.0),
    "INTER_MOYLE": (-1_500.0, 1_500.0, D, 600.0),
}


def _rule(spec: SeriesSpec) -> SeriesRule:
    lo, hi, stuck, floor = _LIMITS[spec.field]
    return SeriesRule(
        field=spec.field,
        unit=spec.unit,
        interval_minutes=spec.interval_minutes,
        min_value=lo,
        max_value=hi,
        stuck_intervals=stuck,
        spike_floor=floor,
    )


DEFAULT_RULES: dict[str, SeriesRule] = {spec.field: _rule(spec) for spec in CATALOGUE}


def rule_for_field(field: str, rules: dict[str, SeriesRule] | None = None) -> SeriesRule:
    """The rule of a field; unknown fields raise :class:`InvalidReading`."""
    rule = (rules or DEFAULT_RULES).get(field)
    if rule is None:
        raise InvalidReading("unknown_field", f"field {field!r} is not in the series catalogue")
    return rule


def check_region(region: str) -> None:
    if region not in REGIONS:
        raise InvalidReading("unknown_region", f"region {region!r} is not one of {REGIONS}")


def check_value(rule: SeriesRule, value: float) -> None:
    """Raise :class:`InvalidReading` (reason ``out_of_range``/``not_finite``) if implausible."""
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidReading("not_finite", f"{rule.field} value {value} is not a finite number")
    if not rule.min_value <= value <= rule.max_value:
        raise InvalidReading(
            "out_of_range",
            f"{rule.field} value {value} {rule.unit} is outside "
            f"[{rule.min_value}, {rule.max_value}]",
        )
