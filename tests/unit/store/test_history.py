"""DuckDB history store: upsert by (series, ts), round trip in the recorded-frame layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridstream.store.history import HistoryStore


def _frame(values: list[float | None], start: str = "2022-01-01") -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(values), freq="15min", tz="UTC")
    return pd.DataFrame(
        {
            "ts": ts,
            "region": "ALL",
            "field": "SYSTEM_DEMAND",
            "value": np.array([np.nan if v is None else v for v in values]),
        }
    )


def test_upsert_replaces_by_series_and_time(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        assert store.upsert_frame(_frame([1.0, 2.0, None, 4.0])) == 3
        assert store.upsert_frame(_frame([10.0, 20.0])) == 2
        store.upsert("ALL", "WIND_ACTUAL", 1_640_995_200_000, 7.0)
        assert store.count() == 4
        assert store.series() == ["ALL/SYSTEM_DEMAND", "ALL/WIND_ACTUAL"]
        demand = store.read_frame(fields=["SYSTEM_DEMAND"])
    assert demand["value"].tolist() == [10.0, 20.0, 4.0]
    assert str(demand["ts"].dt.tz) == "UTC"
    assert demand["ts"].iloc[2] == pd.Timestamp("2022-01-01 00:45", tz="UTC")


def test_store_persists_and_filters_by_time(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        store.upsert_frame(_frame([1.0, 2.0, 3.0, 4.0]))
    with HistoryStore(path) as store:
        part = store.read_frame(
            regions=["ALL"],
            since=pd.Timestamp("2022-01-01 00:15", tz="UTC"),
            until=pd.Timestamp("2022-01-01 00:30", tz="UTC"),
        )
    assert part["value"].tolist() == [2.0, 3.0]
    assert list(part.columns) == ["ts", "region", "field", "value"]


def test_latest_reading_of_a_region_comes_from_the_store(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        assert store.latest_ms("ALL", ["SYSTEM_DEMAND"]) is None
        store.upsert_frame(_frame([1.0, 2.0, 3.0]))
        store.upsert("ALL", "SnspALL", 1_700_000_000_000, 50.0)  # a later field not asked for
        store.upsert("NI", "SYSTEM_DEMAND", 1_700_000_000_000, 9.0)  # another region
        last = int(pd.Timestamp("2022-01-01 00:30", tz="UTC").value // 1_000_000)
        assert store.latest_ms("ALL", ["SYSTEM_DEMAND", "WIND_ACTUAL"]) == last
        assert store.latest_ms("ALL", ["SnspALL"]) == 1_700_000_000_000
        assert store.latest_ms("ROI", ["SYSTEM_DEMAND"]) is None
        assert store.count() == 5
        # a finished query leaves the connection free (DuckDB 2 refuses work after an open one)
        assert store.upsert_frame(_frame([4.0], start="2022-01-02")) == 1
        assert store.count() == 6


def test_a_read_of_known_regions_and_fields_returns_categoricals(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.upsert_frame(_frame([1.0, 2.0]))
        store.upsert("O'Brien", "SYSTEM_DEMAND", 1_640_995_200_000, 3.0)  # quotes stay literal
        picked = store.read_frame(regions=["ALL", "O'Brien"], fields=["SYSTEM_DEMAND"])
        loose = store.read_frame()
    assert isinstance(picked["region"].dtype, pd.CategoricalDtype)
    assert isinstance(picked["field"].dtype, pd.CategoricalDtype)
    assert sorted(picked["region"].astype(str).unique()) == ["ALL", "O'Brien"]
    assert picked["value"].tolist() == [1.0, 3.0, 2.0]  # by time, then region
    assert loose["region"].astype(str).tolist() == picked["region"].astype(str).tolist()
