"""The rebalance replay on a short real slice: report shape and consistency of its figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridstream.core.rebalance.backtest import replay_actions, run_rebalance_backtest
from gridstream.core.rebalance.policy import PolicyConfig, RebalancePolicy
from gridstream.core.storage.fleet import load_fleet_config
from gridstream.core.storage.replay_data import ReplayData, replay_data_from_frame
from gridstream.core.storage.schedule import soc_trajectory
from gridstream.sources.recorded import list_files, read_frame

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
ROOT = DATA / "eirgrid" / "smartgriddashboard"
AREAS = ["demandactual", "windactual", "co2intensity", "SnspALL"]
START = pd.Timestamp("2022-01-20", tz="UTC")
END = pd.Timestamp("2022-01-22", tz="UTC")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    files = list_files(ROOT, regions=["ALL"], areas=AREAS, years=[2022])
    if len(files) < 4:
        pytest.skip(f"recorded EirGrid 2022 ALL files not found under {ROOT}")
    frame = read_frame(files)
    keep = (frame["ts"] >= START - pd.Timedelta(days=9)) & (frame["ts"] < END)
    out: pd.DataFrame = frame[keep]
    return out


@pytest.fixture(scope="module")
def data(raw: pd.DataFrame) -> ReplayData:
    return replay_data_from_frame(raw, "ALL")


def _series(raw: pd.DataFrame, field: str) -> pd.Series:
    rows = raw[(raw["field"] == field) & (raw["ts"] >= START) & (raw["ts"] < END)]
    return rows.set_index("ts")["value"].sort_index()


POLICY = RebalancePolicy(PolicyConfig(demand_response_threshold_mw=6000.0, snsp_limit=0.65))


def test_report_shape_and_internal_consistency(data: ReplayData) -> None:
    fleet = load_fleet_config().for_region("ALL")
    a, b = data.position(START), data.position(END)
    report: dict[str, Any] = json.loads(
        json.dumps(run_rebalance_backtest(data, fleet, a, b, POLICY))
    )
    for key in ("do_nothing", "with_actions", "delta", "actions_by_kind", "actions_total"):
        assert key in report
    for figure in ("peak_net_demand_mw", "hours_above_snsp_limit", "co2_t"):
        delta = report["with_actions"][figure] - report["do_nothing"][figure]
        assert report["delta"][figure] == pytest.approx(delta, abs=0.06)
    assert report["actions_total"] == sum(report["actions_by_kind"].values())
    assert (
        report["actions_by_kind"]["storage_charge"] + report["actions_by_kind"]["storage_discharge"]
        > 0
    )
    assert report["steps"] == b - a


def test_figures_recomputed_from_the_raw_readings(raw: pd.DataFrame, data: ReplayData) -> None:
    fleet = load_fleet_config().for_region("ALL")
    a, b = data.position(START), data.position(END)
    report = run_rebalance_backtest(data, fleet, a, b, POLICY)
    replay = replay_actions(data, fleet, a, b, POLICY)
    demand, wind = _series(raw, "SYSTEM_DEMAND"), _series(raw, "WIND_ACTUAL")
    co2 = _series(raw, "CO2_INTENSITY")
    if not (len(demand) == len(wind) == len(co2) == b - a):
        pytest.skip("the slice has gaps in the raw readings; pick a complete one")
    net = demand.to_numpy() - wind.to_numpy()
    adj = replay.adjustments
    assert report["do_nothing"]["peak_net_demand_mw"] == pytest.approx(net.max(), abs=0.1)
    after = net - adj.demand_response_mw + adj.curtailed_mw - adj.storage_net_mw
    assert report["with_actions"]["peak_net_demand_mw"] == pytest.approx(after.max(), abs=0.1)
    change = -adj.demand_response_mw - adj.storage_net_mw + adj.curtailed_mw
    co2_delta = float((change * co2.to_numpy()).sum()) * 0.25 / 1000.0
    assert report["delta"]["co2_t"] == pytest.approx(co2_delta, abs=0.2)
    snsp = _series(raw, "SNSP_ALL").reindex(demand.index).interpolate().to_numpy() / 100.0
    hours = float((snsp > POLICY.config.snsp_limit).sum()) * 0.25
    assert report["do_nothing"]["hours_above_snsp_limit"] == pytest.approx(hours, abs=0.51)


def test_executed_storage_stays_within_the_fleet_limits(data: ReplayData) -> None:
    fleet = load_fleet_config().for_region("ALL")
    a, b = data.position(START), data.position(END)
    net = replay_actions(data, fleet, a, b, POLICY).adjustments.storage_net_mw
    charge, discharge = np.maximum(-net, 0.0), np.maximum(net, 0.0)
    soc = soc_trajectory(fleet, fleet.initial_soc * fleet.energy_mwh, charge, discharge)
    assert soc.min() >= fleet.soc_min_mwh - 1e-6
    assert soc.max() <= fleet.soc_max_mwh + 1e-6
    assert charge.max() <= fleet.charge_mw + 1e-6
    assert discharge.max() <= fleet.discharge_mw + 1e-6
