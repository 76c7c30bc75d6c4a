"""FrameForecasts picks the latest issue made before the planning time, whatever the
resolution of the frame's timestamps (pandas 3 defaults to microseconds)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pytest

from gridstream.core.storage.forecast_sources import FrameForecasts
from gridstream.core.storage.replay_data import ReplayData


def data(days: int = 3) -> ReplayData:
    index = pd.date_range("2022-03-01", periods=96 * days, freq="15min", tz="UTC").as_unit("ns")
    actual = np.arange(len(index), dtype=np.float64)
    return ReplayData(index, {"demand": actual, "wind": actual, "co2": actual}, {})


Unit = Literal["s", "ms", "us", "ns"]


def frame(data: ReplayData, issues: list[int], unit: Unit) -> pd.DataFrame:
    rows = []
    for issue in issues:
        for lead in range(1, 97):
            for name in ("demand", "wind", "co2"):
                value = 10_000.0 * (issue + 1) + lead  # identifies the issue and the lead
                rows.append((data.index[issue], data.index[issue + lead], name, value))
    out = pd.DataFrame(rows, columns=["issue_time", "target_time", "series", "p50"])
    out["issue_time"] = pd.DatetimeIndex(out["issue_time"]).as_unit(unit)
    out["target_time"] = pd.DatetimeIndex(out["target_time"]).as_unit(unit)
    out["p10"], out["p90"] = out["p50"] - 1, out["p50"] + 1
    return out


@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
def test_uses_the_latest_issue_before_the_planning_time(unit: Unit) -> None:
    d = data()
    source = FrameForecasts(frame(d, [96, 100, 104], unit), d)
    at = 103  # readings up to 102 are known: the issue at 100 is the latest usable one
    fc = source.horizon(d, at, 8)
    co2 = fc.get("co2")
    assert co2 is not None
    # step i targets position at+i, which is lead (at + i - 100) of the issue at 100
    expected = [10_000.0 * 101 + (at + i - 100) for i in range(8)]
    assert co2.p50.tolist() == expected
    assert co2.p10.tolist() == [v - 1 for v in expected]


def test_before_any_issue_falls_back_to_same_time_yesterday() -> None:
    d = data()
    source = FrameForecasts(frame(d, [150], "us"), d)
    fc = source.horizon(d, 120, 4)
    demand = fc.get("demand")
    assert demand is not None
    assert demand.p50.tolist() == [float(p - 96) for p in range(120, 124)]
