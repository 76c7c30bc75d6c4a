"""Fixtures for forecasting tests: real recorded data and a small synthetic series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
RECORDED = DATA / "eirgrid" / "smartgriddashboard"


@pytest.fixture(scope="session")
def real_spring_2022() -> pd.DataFrame:
    """ALL demand, wind and CO2 intensity, 18 Mar - 1 Apr 2022 (spans the spring DST change)."""
    if not RECORDED.exists():
        pytest.skip(f"real data {RECORDED} is absent (expected ../shared/data beside the repo)")
    from gridstream.sources.recorded import list_files, read_frame

    files = list_files(
        RECORDED,
        regions=["ALL"],
        areas=["demandactual", "windactual", "co2intensity"],
        years=[2022],
    )
    frame = read_frame(files)
    keep = (frame["ts"] >= pd.Timestamp("2022-03-18", tz="UTC")) & (
        frame["ts"] < pd.Timestamp("2022-04-01", tz="UTC")
    )
    return frame[keep].reset_index(drop=True)


def synthetic_history(days: int = 42, seed: int = 1) -> pd.DataFrame:
    """A demand-like daily cycle with noise plus a wind-like random walk, region ALL."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2021-01-04", periods=days * 96, freq="15min", tz="UTC")
    t = np.arange(len(ts))
    demand = 4000 + 800 * np.sin(2 * np.pi * (t % 96) / 96) + rng.normal(0, 30, len(ts))
    wind = np.clip(1500 + np.cumsum(rng.normal(0, 20, len(ts))), 0, None)
    co2 = 300 - 0.05 * wind + rng.normal(0, 5, len(ts))
    parts = [
        pd.DataFrame({"ts": ts, "region": "ALL", "field": f, "value": v})
        for f, v in (("SYSTEM_DEMAND", demand), ("WIND_ACTUAL", wind), ("CO2_INTENSITY", co2))
    ]
    return pd.concat(parts, ignore_index=True)
