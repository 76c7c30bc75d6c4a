"""AnomalyScorer: evidence combination, explanations, state, and real EirGrid events."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gridstream.core.anomaly.model import ForecastPoint, Label, QualityFlags, Reading, Severity
from gridstream.core.anomaly.scorer import AnomalyScorer

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "eirgrid"
DEMAND = "ALL/SYSTEM_DEMAND"


def test_forecast_miss_is_explained_in_mw_against_p10() -> None:
    scorer = AnomalyScorer()
    reading = Reading(DEMAND, 0, 2970.0)
    fc = ForecastPoint(p10=4708.0, p50=4800.0, p90=4900.0, horizon_minutes=60)
    result = scorer.score(reading, fc)
    assert result.is_anomaly and result.label is Label.FORECAST_MISS
    assert result.explanation == "demand 1,738 MW below P10 of the 1 h forecast"
    inside = scorer.score(Reading(DEMAND, 900_000, 4800.0), fc)
    assert not inside.is_anomaly and inside.label is Label.NORMAL


def test_stuck_flag_is_critical_and_gap_is_reported() -> None:
    scorer = AnomalyScorer()
    stuck = scorer.score(Reading(DEMAND, 0, 4708.0), None, QualityFlags(True, 8))
    assert stuck.label is Label.STUCK and stuck.severity is Severity.CRITICAL
    assert "stuck at 4,708 MW for 2 h" in stuck.explanation
    gap = scorer.score(
        Reading(DEMAND, 900_000, 4700.0), None, QualityFlags(gap_before_ms=7_200_000)
    )
    assert gap.label is Label.GAP and gap.is_anomaly


def test_series_state_round_trips() -> None:
    a = AnomalyScorer()
    for i in range(300):
        a.score(Reading(DEMAND, i * 900_000, 4000.0 + (i % 96) * 10))
    b = AnomalyScorer()
    b.restore(DEMAND, a.state_bytes(DEMAND))
    nxt = Reading(DEMAND, 300 * 900_000, 6500.0)
    assert a.score(nxt).score == b.score(nxt).score


@pytest.fixture(scope="module")
def demand_2020() -> list[tuple[int, float]]:
    path = DATA / "smartgriddashboard" / "ALL" / "ALL_demandactual_20_Eirgrid.csv.gz"
    if not path.is_file():
        pytest.skip("../shared/data/eirgrid is absent")
    from gridstream.sources.recorded import read_frame

    frame = read_frame([path])
    frame = frame[(frame["field"] == "SYSTEM_DEMAND") & (frame["ts"] >= "2020-05-20")]
    frame = frame[frame["ts"] < "2020-09-11"]
    return [
        (int(t.value // 1_000_000), float(v))
        for t, v in zip(frame["ts"], frame["value"], strict=False)
    ]


def _run(series: list[tuple[int, float]]) -> dict[int, tuple[bool, Label]]:
    scorer, prev, run, out = AnomalyScorer(), None, 0, {}
    for ts, v in series:
        run = run + 1 if v == prev else 0
        prev = v
        r = scorer.score(Reading(DEMAND, ts, v), None, QualityFlags(run >= 4, run))
        out[ts] = (r.is_anomaly, r.label)
    return out


def _ms(text: str) -> int:
    import pandas as pd

    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def test_real_events_detected(demand_2020: list[tuple[int, float]]) -> None:
    out = _run(demand_2020)
    # 11 Jun 2020 16:00 Irish time (15:00 UTC): demand spike of about +1,100 MW
    assert out[_ms("2020-06-11 15:00")] == (True, Label.SPIKE)
    # 9-10 Sep 2020: feed frozen from ~21:15 Irish time (20:15 UTC) for hours
    stuck = [out[ts] for ts in out if _ms("2020-09-09 21:15") <= ts <= _ms("2020-09-10 01:45")]
    assert stuck and all(flag == (True, Label.STUCK) for flag in stuck)
    # a normal August: few anomaly episodes (starts of runs of anomalous readings) per week
    aug = sorted(ts for ts in out if _ms("2020-08-01") <= ts < _ms("2020-09-01"))
    starts = sum(1 for a, b in itertools.pairwise(aug) if out[b][0] and not out[a][0])
    assert starts / (31 / 7) < 4.0
