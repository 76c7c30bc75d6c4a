"""The grid's own recorded incidents, and how a replay's alerts are judged against them.

Each :class:`Incident` names the series it concerns, a search window, and how its start is
found *in the data* (the README of the recorded files gives only approximate times): the
first reading of the longest flat run, the first missing reading of the longest gap, or a
fixed time. A regime change (``expect_alarm=False``) passes when nothing fires on its series
during its first weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MONTH_MS = 30.44 * DAY_MS

StartRule = Literal["flat", "gap", "fixed"]


def utc_ms(text: str) -> int:
    """``"2020-09-09T20:15"`` (UTC) as epoch milliseconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Incident:
    name: str
    series: tuple[str, ...]  # the first is the one whose data fixes the start
    window_from_ms: int
    window_to_ms: int
    start_rule: StartRule
    fixed_start_ms: int = 0
    expect_alarm: bool = True
    #: a regime change passes when no alarm fires for this long after its start
    quiet_for_ms: int = 21 * DAY_MS


INCIDENTS: tuple[Incident, ...] = (
    Incident(
        "frozen feed, 9-10 Sep 2020",
        ("ALL/SYSTEM_DEMAND", "ALL/GEN_EXP", "ALL/WIND_ACTUAL"),
        utc_ms("2020-09-09T12:00"),
        utc_ms("2020-09-10T06:00"),
        "flat",
    ),
    Incident(
        "demand spike, 11 Jun 2020",
        ("ALL/SYSTEM_DEMAND",),
        utc_ms("2020-06-11T14:00"),
        utc_ms("2020-06-11T17:00"),
        "fixed",
        fixed_start_ms=utc_ms("2020-06-11T15:00"),  # 16:00 Irish summer time
    ),
    Incident(
        "EWIC flat, 28 Mar - 19 Apr 2022",
        ("ROI/INTER_EWIC",),
        # the README dates it from 28 Mar; the recorded flow sits at 3 MW from 14 Mar 14:15
        utc_ms("2022-03-01T00:00"),
        utc_ms("2022-04-22T00:00"),
        "flat",
    ),
    Incident(
        "Moyle flat, early Jul 2022",
        ("NI/INTER_MOYLE",),
        utc_ms("2022-06-28T00:00"),
        utc_ms("2022-07-08T00:00"),
        "flat",
    ),
    Incident(
        "missing CO2, Apr-Jun 2018",
        ("ALL/CO2_INTENSITY",),
        utc_ms("2018-03-25T00:00"),
        utc_ms("2018-07-05T00:00"),
        "gap",
    ),
    Incident(
        "NI CO2 intensity stuck, Apr 2016",
        ("NI/CO2_INTENSITY",),
        utc_ms("2016-03-28T00:00"),
        utc_ms("2016-05-05T00:00"),
        "flat",
    ),
    Incident(
        "COVID demand dip, spring 2020",
        ("ALL/SYSTEM_DEMAND",),
        utc_ms("2020-03-01T00:00"),
        utc_ms("2020-06-01T00:00"),
        "fixed",
        fixed_start_ms=utc_ms("2020-03-12T00:00"),  # the first closures
        expect_alarm=False,
    ),
)


def incident_start(
    incident: Incident, ts_ms: Sequence[int], values: Sequence[float], interval_ms: int
) -> tuple[int, int]:
    """(start, end) of the incident in the readings of its first series inside its window.

    ``flat``: the longest run of equal consecutive values; ``gap``: the longest stretch with
    no reading (start = the first missing slot); ``fixed``: the given start, one interval long.
    """
    if incident.start_rule == "fixed":
        return incident.fixed_start_ms, incident.fixed_start_ms + interval_ms
    ts = np.asarray(ts_ms, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)
    inside = (ts >= incident.window_from_ms) & (ts < incident.window_to_ms)
    ts, vals = ts[inside], vals[inside]
    if len(ts) < 2:
        raise ValueError(f"{incident.name}: too few readings in its window to place it")
    if incident.start_rule == "gap":
        steps = np.diff(ts)
        i = int(np.argmax(steps))
        return int(ts[i]) + interval_ms, int(ts[i + 1])
    same = np.concatenate(([False], vals[1:] == vals[:-1]))
    best_len, best_at, run_start, run = 0, 0, 0, 0
    for i, flat in enumerate(same):
        if flat:
            run += 1
            if run > best_len:
                best_len, best_at = run, run_start
        else:
            run, run_start = 0, i
    return int(ts[best_at]), int(ts[best_at + best_len])


@dataclass(frozen=True)
class Firing:
    """An alert that went to firing: which rule, on which series, when, and why."""

    rule: str
    series: str
    at_ms: int
    summary: str


@dataclass(frozen=True)
class Verdict:
    incident: str
    start_ms: int
    end_ms: int
    expect_alarm: bool
    flagged: bool
    delay_minutes: float | None
    evidence: str
    passed: bool


def judge(incident: Incident, start_ms: int, end_ms: int, firings: Sequence[Firing]) -> Verdict:
    """Was the incident flagged (first firing on its series from its start to its end + 1 h),
    and how long after its start; a regime change passes when nothing fires for weeks."""
    mine = sorted(
        (f for f in firings if f.series in incident.series and f.at_ms >= start_ms),
        key=lambda f: f.at_ms,
    )
    if incident.expect_alarm:
        hits = [f for f in mine if f.at_ms <= max(end_ms, start_ms) + HOUR_MS]
        first = hits[0] if hits else None
        delay = None if first is None else (first.at_ms - start_ms) / 60_000
        evidence = "" if first is None else f"{first.rule} on {first.series}: {first.summary}"
        passed = delay is not None and delay <= 60
        return Verdict(
            incident.name, start_ms, end_ms, True, first is not None, delay, evidence, passed
        )
    quiet_until = start_ms + incident.quiet_for_ms
    early = [f for f in mine if f.at_ms < quiet_until]
    first = early[0] if early else None
    delay = None if first is None else (first.at_ms - start_ms) / 60_000
    evidence = "" if first is None else f"{first.rule} on {first.series}: {first.summary}"
    return Verdict(
        incident.name, start_ms, end_ms, False, first is not None, delay, evidence, first is None
    )


def firings_outside(
    firings: Sequence[Firing],
    excluded: Sequence[tuple[int, int]],
    series: Sequence[str],
    from_ms: int,
    to_ms: int,
) -> list[Firing]:
    """The firings on ``series`` over ``[from_ms, to_ms)`` outside the ``excluded`` spans."""
    return [
        f
        for f in firings
        if f.series in series
        and from_ms <= f.at_ms < to_ms
        and not any(lo <= f.at_ms < hi for lo, hi in excluded)
    ]


def false_alarm_rate(
    firings: Sequence[Firing],
    excluded: Sequence[tuple[int, int]],
    series: Sequence[str],
    from_ms: int,
    to_ms: int,
) -> float:
    """Firings per series per month over ``[from_ms, to_ms)`` outside the ``excluded`` spans."""
    kept = firings_outside(firings, excluded, series, from_ms, to_ms)
    months = (to_ms - from_ms) / MONTH_MS
    return len(kept) / (len(series) * months) if series and months > 0 else 0.0
