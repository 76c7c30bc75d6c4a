"""A synthetic all-island grid calibrated on recorded data (``calibration.json``).

Demand = mean x month factor x weekday factor x quarter-hour profile (weekday/weekend) x
(1 + AR(1) noise); wind = capacity x logistic(monthly level + AR(1)); CO2 intensity falls
linearly with the wind share of demand, plus noise. Same seed and span -> same readings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from gridstream.schemas import readings_pb2
from gridstream.sources.calibration import load_calibration
from gridstream.sources.chunks import as_utc
from gridstream.sources.local_time import EFFECTIVE_TIME_FORMAT, IRISH_TZ
from gridstream.sources.records import make_raw_reading

STEP_MS = 900_000


class Simulator:
    """``Simulator(seed).readings(start, end)``: ALL demand, wind and CO2 intensity, 15-min."""

    def __init__(self, seed: int = 0, calibration: dict[str, Any] | None = None) -> None:
        self.seed = seed
        self.cal = calibration or load_calibration()

    def readings(
        self, start: datetime, end: datetime, *, source: str = "simulate"
    ) -> Iterator[readings_pb2.RawReading]:
        cal = self.cal
        rng = np.random.default_rng(self.seed)
        tz = ZoneInfo(IRISH_TZ)
        t = -(-int(as_utc(start).timestamp() * 1000) // STEP_MS) * STEP_MS
        stop = int(as_utc(end).timestamp() * 1000)
        d_noise = 0.0
        w_noise = rng.normal(0.0, cal["wind_ar_sigma"] / math.sqrt(1 - cal["wind_ar_phi"] ** 2))
        while t < stop:
            local = datetime.fromtimestamp(t / 1000, UTC).astimezone(tz)
            slot = local.hour * 4 + local.minute // 15
            weekend = local.weekday() >= 5
            profile = cal["demand_profile_weekend" if weekend else "demand_profile_weekday"]
            d_noise = cal["demand_ar_phi"] * d_noise + rng.normal(0.0, cal["demand_ar_sigma"])
            demand = (
                cal["demand_mean_mw"]
                * cal["demand_month_factor"][local.month - 1]
                * cal["demand_weekday_factor"][local.weekday()]
                * profile[slot]
                * (1.0 + d_noise)
            )
            w_noise = cal["wind_ar_phi"] * w_noise + rng.normal(0.0, cal["wind_ar_sigma"])
            z = cal["wind_month_logit_mean"][local.month - 1] + w_noise
            wind = cal["wind_capacity_mw"] / (1.0 + math.exp(-z))
            co2 = cal["co2_intercept"] + cal["co2_slope_per_wind_share"] * wind / demand
            co2 = min(1500.0, max(10.0, co2 + rng.normal(0.0, cal["co2_sigma"] * 0.3)))
            text = local.strftime(EFFECTIVE_TIME_FORMAT)
            for field, value in (
                ("SYSTEM_DEMAND", demand),
                ("WIND_ACTUAL", wind),
                ("CO2_INTENSITY", co2),
            ):
                yield make_raw_reading(
                    region="ALL",
                    field=field,
                    ts_ms=t,
                    value=round(value, 1),
                    effective_time=text,
                    source=source,
                )
            t += STEP_MS
