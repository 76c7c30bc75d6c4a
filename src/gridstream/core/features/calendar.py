"""Calendar features in Irish local time: DST-aware, with Irish public holidays.

Demand follows the clock on the wall, not UTC: the morning ramp moves by an hour across the
DST changes, so hour and quarter-hour are taken in Europe/Dublin. Holidays come from the
``holidays`` package: Ireland (``IE``) and Northern Ireland (``GB``, subdivision ``NIR``).
For Ireland the package lists neither the substitute days nor Good Friday, and demand drops
on both like on a public holiday, so :func:`irish_days_off` adds them (see there).
"""

from __future__ import annotations

from datetime import date, timedelta
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
    "holiday_ie_next",
    "christmas_days",
    "to_sunset_h",
)
_CACHE_DAYS = 64
_SLOTS_PER_DAY = 96
_SLOT_NS = 15 * 60 * 10**9


SUBSTITUTED_IE = ("New Year's Day", "Saint Patrick's Day", "Christmas Day", "Saint Stephen's Day")
"""Irish public holidays whose weekend dates move to the next free weekday."""


@lru_cache(maxsize=64)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    import holidays

    if country == "IE":
        return irish_days_off(year)
    calendar = holidays.country_holidays(country, subdiv=subdiv, years=[year])
    return frozenset(calendar.keys())


def irish_days_off(year: int) -> frozenset[date]:
    """The days of ``year`` Ireland takes off: the public holidays, the weekday a weekend
    New Year's, St Patrick's, Christmas or St Stephen's Day moves to (Monday 3 January 2022;
    27 and 28 December 2021, when both fell on the weekend), and Good Friday.

    The ``holidays`` package lists only the legal dates for Ireland. Banks, schools and most
    employers close on the substitute days, and on Good Friday many do. Without them the model
    took 3 January 2022 for a working day and missed it by 5 % a day ahead. With them the
    2022 all-island 24 h MAPE fell from 1.880 % to 1.862 % (trained 2019-2021).
    """
    import holidays

    legal = holidays.country_holidays("IE", years=[year])
    days = set(legal.keys())
    for day, name in sorted(legal.items()):
        if name in SUBSTITUTED_IE and day.weekday() >= 5:
            moved = day + timedelta(days=1)
            while moved.weekday() >= 5 or moved in days:
                moved += timedelta(days=1)
            days.add(moved)
    optional = holidays.country_holidays("IE", years=[year], categories=("optional",))
    days |= {day for day, name in optional.items() if name == "Good Friday"}
    return frozenset(days)


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
        "holiday_ie_next": _is_holiday(days + np.timedelta64(1, "D"), "IE", None),
        "christmas_days": _christmas_distance(local),
        "to_sunset_h": hour + minute / 60.0 - _sunset_hour(local, offset),
    }


def _christmas_distance(local: pd.DatetimeIndex) -> np.ndarray:
    """Days from 21 December (0) to 3 January (13), else -1: the holiday season's own
    pattern (schools and businesses closed, not only the public holidays)."""
    month = np.asarray(local.month)
    day = np.asarray(local.day)
    result = np.full(len(local), -1.0)
    dec = (month == 12) & (day >= 21)
    jan = (month == 1) & (day <= 3)
    result[dec] = day[dec] - 21.0
    result[jan] = day[jan] + 10.0
    return result


def _sunset_hour(local: pd.DatetimeIndex, offset_s: np.ndarray) -> np.ndarray:
    """Approximate Dublin sunset in local clock hours (about 16:05 in December, 21:55 in
    June): when the lights come on, which shapes the evening peak."""
    doy = np.asarray(local.day_of_year, dtype=np.float64)
    utc = 18.5 + 2.45 * np.sin(2.0 * np.pi * (doy - 80.0) / 365.25)
    result: np.ndarray = utc + offset_s / 3600.0
    return result


def calendar_block(slots: np.ndarray) -> np.ndarray:
    """Calendar features (columns of ``CALENDAR_FEATURES``) of UTC 15-minute slot indices.

    Few distinct days (the stream, small batches) are served from a per-day cache; long
    ranges (training) are computed in one vectorised pass over the covered slots.
    """
    if len(slots) == 0:
        return np.empty((0, len(CALENDAR_FEATURES)))
    first_day = int(slots.min()) // _SLOTS_PER_DAY
    last_day = int(slots.max()) // _SLOTS_PER_DAY
    if last_day - first_day < _CACHE_DAYS:
        table = np.concatenate([_day_block(d) for d in range(first_day, last_day + 1)])
    else:
        table = _slots_block(first_day * _SLOTS_PER_DAY, (last_day + 1) * _SLOTS_PER_DAY)
    picked: np.ndarray = table[slots - first_day * _SLOTS_PER_DAY]
    return picked


@lru_cache(maxsize=512)
def _day_block(day: int) -> np.ndarray:
    block = _slots_block(day * _SLOTS_PER_DAY, (day + 1) * _SLOTS_PER_DAY)
    block.setflags(write=False)
    return block


def _slots_block(start: int, stop: int) -> np.ndarray:
    stamps = pd.DatetimeIndex(
        pd.to_datetime(np.arange(start, stop, dtype=np.int64) * _SLOT_NS, utc=True)
    )
    features = calendar_features(stamps)
    return np.column_stack([features[name] for name in CALENDAR_FEATURES])
