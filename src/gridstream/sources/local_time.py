"""Irish local wall-clock time (Europe/Dublin) to UTC, correct on both DST days.

EirGrid publishes ``EffectiveTime`` as local wall-clock time. Two days a year need care:

* spring: local 01:00-01:59 does not exist; such rows carry no value and map to ``NaT``;
* autumn: local 01:00-01:59 happens twice. The first occurrence (in input order) of a wall
  time within one series is the summer-time one, a second occurrence is winter time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

IRISH_TZ = "Europe/Dublin"
EFFECTIVE_TIME_FORMAT = "%d-%b-%Y %H:%M:%S"


def local_to_utc(local: pd.Series, series_key: pd.Series | None = None) -> pd.Series:
    """Convert naive Irish wall-clock timestamps to tz-aware UTC timestamps.

    ``series_key`` groups rows by series so that the "first occurrence is summer time" rule
    is applied per series; without it the whole input is one series.
    """
    naive = pd.to_datetime(local)
    dst_flags = np.ones(len(naive), dtype=bool)
    keys = series_key if series_key is not None else pd.Series(0, index=naive.index)
    occurrence = (
        pd.DataFrame({"k": keys.to_numpy(), "t": naive.to_numpy()})
        .groupby(["k", "t"], sort=False)
        .cumcount()
        .to_numpy()
    )
    dst_flags[occurrence > 0] = False
    localized = pd.DatetimeIndex(naive).tz_localize(
        IRISH_TZ, ambiguous=dst_flags, nonexistent="NaT"
    )
    return pd.Series(localized.tz_convert("UTC"), index=local.index)


def parse_effective_time(text: pd.Series) -> pd.Series:
    """Parse EirGrid ``EffectiveTime`` strings (``01-Jan-2022 00:00:00``) as naive datetimes."""
    return pd.to_datetime(text, format=EFFECTIVE_TIME_FORMAT)


def parse_effective_time_scalar(text: str) -> datetime:
    """One ``EffectiveTime`` string as a naive local datetime."""
    return datetime.strptime(text, EFFECTIVE_TIME_FORMAT)


def wall_to_utc_ms(naive: datetime, second_occurrence: bool = False) -> int | None:
    """One naive Irish wall-clock time to UTC epoch milliseconds.

    Returns ``None`` for a wall time that does not exist (the spring gap). For the repeated
    autumn hour the first occurrence is summer time, ``second_occurrence`` selects winter
    time; the same rule as :func:`local_to_utc`.
    """
    tz = ZoneInfo(IRISH_TZ)
    aware = naive.replace(tzinfo=tz, fold=1 if second_occurrence else 0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return int(utc.timestamp() * 1000)


def utc_ms_to_wall(ts_ms: int) -> str:
    """UTC epoch milliseconds as an EirGrid ``EffectiveTime`` string (Irish wall clock)."""
    local = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(ZoneInfo(IRISH_TZ))
    return local.strftime(EFFECTIVE_TIME_FORMAT)
