"""The seasonal-naive surprise: unlike yesterday *and* unlike last week before it is odd."""

from __future__ import annotations

from gridstream.core.anomaly.surprise import DAY_MS, WEEK_MS, PredictiveSurpriseDetector

Q = 900_000


def _weekly(ts: int) -> float:
    """Working days at 5,000, weekends at 3,500, with a little daily shape."""
    day = (ts // DAY_MS) % 7
    level = 3500.0 if day >= 5 else 5000.0
    return level + 50.0 * ((ts // Q) % 4)


def _last_z_on_monday(week_ms: int) -> tuple[float, float]:
    det = PredictiveSurpriseDetector(week_ms=week_ms, min_history=24)
    ts = 0
    monday = 3 * WEEK_MS  # day 21 is a Monday in this calendar (day 0 is one)
    while ts < monday:
        det.score_one(ts, _weekly(ts))
        ts += Q
    det.score_one(ts, _weekly(ts))  # the first reading after the weekend
    usual = det.last_z
    det.score_one(ts + Q, _weekly(ts + Q) + 2000.0)  # and then a real surprise
    return usual, det.last_z


def test_the_first_working_day_is_judged_against_last_week() -> None:
    day_only, _ = _last_z_on_monday(0)
    with_week, surprise = _last_z_on_monday(WEEK_MS)
    assert day_only > 10  # against Sunday, Monday morning looks absurd
    assert with_week < 1  # against last Monday it is ordinary
    assert surprise > 10  # a reading unlike both still stands out


def test_state_round_trip_keeps_a_week_of_values() -> None:
    det = PredictiveSurpriseDetector(week_ms=WEEK_MS)
    for i in range(800):
        det.score_one(i * Q, _weekly(i * Q))
    copy = PredictiveSurpriseDetector(week_ms=WEEK_MS)
    copy.set_state(det.get_state())
    ts = 800 * Q
    assert copy.predict(ts, _weekly(ts)) == det.predict(ts, _weekly(ts)) == _weekly(ts - WEEK_MS)
