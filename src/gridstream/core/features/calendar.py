"""Calendar features in Irish local time: DST-aware, with Irish public holidays.

Demand follows the clock on the wall, not UTC: the morning ramp moves by an hour across the
DST changes, so hour and quarter-hour are taken in Europe/Dublin. Holidays come from the
``holidays`` package: Ireland (``IE``) and Northern Ireland (``GB``, subdivision ``NIR``).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

IRISH_TZ = "Europe/Dublin"

CALENDAR_FEATURES = (
    "hour",
    "quarter_of_day",
    "day_of_week",
    "month",
    "day_of_year",
    "is_weekend",
    "is_dst",
    "holiday_ie",
    "holiday_ni",
    "holiday_ie_d1",
    "holiday_ie_w1",
)


@lru_cache(maxsize=64)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    import holidays

    calendar = holidays.country_holidays(country, subdiv=subdiv, years=[year])
    return frozenset(calendar.keys())


def _is_holiday(days: np.ndarray, country: str, subdiv: str | None) -> np.ndarray:
    """For an array of ``datetime64[D]`` local dates, whether each is a public holiday."""
    unique, inverse = np.unique(days, return_inverse=True)
    flags = np.zeros(len(unique), dtype=np.float64)
    for i, day in enumerate(unique):
        d = pd.Timestamp(day).date()
        flags[i] = float(d in _holiday_dates(country, subdiv, d.year))
    return flags[inverse.reshape(-1)]


def calendar_features(ts: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Calendar features of UTC timestamps, computed in Irish local time."""
    local = ts.tz_convert(IRISH_TZ)
    hour = np.asarray(local.hour, dtype=np.float64)
    minute = np.asarray(local.minute, dtype=np.float64)
    dow = np.asarray(local.day_of_week, dtype=np.float64)
    offset = np.asarray(
        (local.tz_localize(None) - ts.tz_convert("UTC").tz_localize(None)).total_seconds()
    )
    days = np.asarray(local.tz_localize(None).normalize().to_numpy(), dtype="datetime64[D]")
    return {
        "hour": hour,
        "quarter_of_day": hour * 4 + minute // 15,
        "day_of_week": dow,
        "month": np.asarray(local.month, dtype=np.float64),
        "day_of_year": np.asarray(local.day_of_year, dtype=np.float64),
        "is_weekend": (dow >= 5).astype(np.float64),
        "is_dst": (offset > 0).astype(np.float64),
        "holiday_ie": _is_holiday(days, "IE", None),
        "holiday_ni": _is_holiday(days, "GB", "NIR"),
        "holiday_ie_d1": _is_holiday(days - np.timedelta64(1, "D"), "IE", None),
        "holiday_ie_w1": _is_holiday(days - np.timedelta64(7, "D"), "IE", None),
    }
