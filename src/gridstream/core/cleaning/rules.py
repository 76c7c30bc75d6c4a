"""Validation rules per EirGrid field: unit, interval, physical range, flatline and spike limits.

Ranges are physical plausibility, not statistics: demand and generation 0-10 GW, CO2
intensity 0-1500 g/kWh, SNSP 0-100 %, interconnector flows signed, wind a little negative
(station consumption on calm days; the recorded minimum is about -60 MW).

Stuck limits are time spans. Demand, generation, wind, CO2 and SNSP are flagged after an
hour of identical readings (the first and four repeats, :data:`HOUR_OF_READINGS`): in the
recorded 2014-2022 data all-island demand held a value that long 13 times in 108 months, each
time together with generation and wind, i.e. a frozen feed, and CO2 intensity 10 times. A
limit of 8 readings flagged the frozen feed of 9 Sep 2020 only 105 min after it froze.
Interconnectors legitimately hold a scheduled flow (or zero) for hours, so a held flow is
flagged only after a day: EWIC held a value for 12 h or more 36 times a month, for a day 0.6
times. A flow held within :data:`IDLE_BAND_MW` of zero but not zero is another matter: no link
is dispatched to a few megawatts, so such a reading is a meter offset (the link is out of
service, or its telemetry froze), and an hour of it is flagged like any other frozen feed (EWIC
read 3 MW from 14 Mar 2022, Moyle 5 MW from 30 Jun 2022). The stretch lasts until the link
carries power again for an hour (:data:`FLOW_TO_RECOVER` readings above the band), so an outage
whose meter wanders between offsets and zero is one episode, not one per wobble. Exact zero
alone stays on the day rule: a link reports zero when it is idle on schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridstream.errors import ValidationError
from gridstream.sources.catalogue import CATALOGUE, REGIONS, SeriesSpec

#: a value held for an hour of quarter-hours: the first reading and four repeats
HOUR_OF_READINGS = 5
#: a day of quarter-hours
DAY_OF_READINGS = 96
#: an interconnector flow this close to zero, but not zero, is a meter offset, not a transfer
IDLE_BAND_MW = 5.0
#: readings above the idle band (an hour of real flow) that end a meter-offset stretch
FLOW_TO_RECOVER = 4


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
    #: readings with 0 < |value| <= idle_band count as held (0 = no such band)
    idle_band: float = 0.0

    @property
    def interval_ms(self) -> int:
        return self.interval_minutes * 60_000

    def is_idle(self, value: float) -> bool:
        """A reading within the idle band: no real transfer, only a meter offset."""
        return 0.0 < abs(value) <= self.idle_band

    def track_idle(
        self, value: float, run_length: int, idle_run: int, flow_run: int
    ) -> tuple[int, int]:
        """(idle_run, flow_run) after a reading: ``idle_run`` counts the readings of the
        meter-offset stretch the series is in (or, before it is one, the identical in-band
        readings so far); ``flow_run`` the readings above the band since the stretch began."""
        if not self.idle_band:
            return 0, 0
        if idle_run < HOUR_OF_READINGS:
            return (run_length if self.is_idle(value) else 0), 0
        flow_run = flow_run + 1 if abs(value) > self.idle_band else 0
        if flow_run >= FLOW_TO_RECOVER:
            return 0, 0
        return idle_run + 1, flow_run

    def held_run(self, run_length: int, idle_run: int) -> int:
        """The flatline a series is in: ``run_length`` identical readings (stuck from
        ``stuck_intervals``), or a meter-offset stretch of ``idle_run`` readings (stuck from an
        hour). 0 when neither has reached its limit."""
        if run_length >= self.stuck_intervals:
            return max(run_length, idle_run)
        if self.idle_band and idle_run >= HOUR_OF_READINGS:
            return idle_run
        return 0


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
    idle = IDLE_BAND_MW if spec.field.startswith("INTER_") and spec.field != "INTER_NET" else 0.0
    return SeriesRule(
        field=spec.field,
        unit=spec.unit,
        interval_minutes=spec.interval_minutes,
        min_value=lo,
        max_value=hi,
        stuck_intervals=stuck,
        spike_floor=floor,
        idle_band=idle,
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
