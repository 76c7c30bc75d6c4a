"""Replay evaluation of the rebalancer: what its actions would have changed on recorded data.

Every ``decision_steps`` the same :class:`RebalancePolicy` the service runs (mode automatic)
sees seasonal-naive (same time yesterday) P10/P50/P90 forecasts of demand and SNSP for the
next window, the storage MPC's setpoint for that window (planned on the same forecasts), the
last observed demand against what the forecast expected, and a ``stuck`` alert for any
series whose last readings are frozen. Its actions are then applied to the actual series:

* storage: the setpoint, clipped to the fleet's power, ramp and SoC limits step by step;
* demand response: demand lowered by the requested MW over the window;
* wind curtailment: wind lowered by the requested MW (never below zero);
* interconnector actions are counted but not applied (no recorded flows to apply them to).

Approximations (stated in the report): SNSP after the actions is
``(SNSP * demand - curtailed + discharge) / (demand - demand response + charge)``; CO2 is
demand (and its changes) times the actual average intensity, so curtailed wind is replaced,
and charging is supplied, at that intensity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gridstream.core.rebalance.base import (
    ActionProposal,
    Alert,
    Kind,
    Mode,
    Observation,
    PolicyInputs,
    SeriesForecast,
    StoragePlan,
)
from gridstream.core.rebalance.limits import HOUR_MS
from gridstream.core.rebalance.policy import POLICY_VERSION, RebalancePolicy
from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.forecast_sources import SeasonalNaive
from gridstream.core.storage.horizon import STEP_HOURS, FloatArray
from gridstream.core.storage.objectives import preset
from gridstream.core.storage.replay_data import ReplayData
from gridstream.core.storage.strategies import run_mpc
from gridstream.errors import ValidationError

DAY = 96
STUCK_STEPS = 8  # two hours of identical readings = a frozen feed
Progress = Callable[[int], None]


@dataclass
class Adjustments:
    """MW changes per step of ``[start, end)`` caused by executed actions."""

    storage_net_mw: FloatArray  # discharge - charge
    demand_response_mw: FloatArray
    curtailed_mw: FloatArray


def _window_quantiles(values: FloatArray, at: int, end: int) -> tuple[float, float, float]:
    """Same-time-yesterday forecast of the window's maximum, with P10/P90 from that rule's
    errors over the past week."""
    p50 = values[np.maximum(np.arange(at, end) - DAY, 0)]
    lo, hi = max(DAY, at - 7 * DAY), at
    errors = values[lo:hi] - values[lo - DAY : hi - DAY] if hi > lo else np.zeros(1)
    q10, q90 = np.quantile(errors, [0.1, 0.9])
    top = float(p50.max())
    return top + float(q10), top, top + float(q90)


def _stuck(values: FloatArray, at: int) -> bool:
    recent = values[max(0, at - STUCK_STEPS) : at]
    return len(recent) == STUCK_STEPS and float(np.ptp(recent)) == 0.0


def snsp_fraction(data: ReplayData) -> FloatArray:
    """SNSP as a fraction (the recorded files hold percent)."""
    snsp = data.series["snsp"]
    return snsp / 100.0 if float(np.nanmedian(snsp)) > 1.5 else snsp


def _ms(data: ReplayData, pos: int) -> int:
    return int(data.index[min(pos, len(data) - 1)].value // 1_000_000)


def _inputs(
    data: ReplayData,
    region: str,
    at: int,
    end: int,
    storage_net: FloatArray,
    offset: int,
    snsp: FloatArray,
) -> PolicyInputs:
    start_ms, end_ms = _ms(data, at), _ms(data, at) + (end - at) * 15 * 60 * 1000
    forecasts = []
    for series, values in (("demand", data.series["demand"]), ("snsp", snsp)):
        p10, p50, p90 = _window_quantiles(values, at, end)
        forecasts.append(
            SeriesForecast(
                f"naive/{region}/{series}@{start_ms}",
                region,
                series,
                "seasonal-naive",
                start_ms,
                end_ms,
                p10,
                p50,
                p90,
            )
        )
    plan = StoragePlan(
        f"mpc/{region}@{start_ms}",
        region,
        start_ms,
        end_ms,
        float(storage_net[at - offset : end - offset].mean()),
    )
    demand = data.series["demand"]
    obs = Observation(region, "demand", float(demand[at - 1]), float(demand[at - 1 - DAY]))
    alerts = tuple(
        Alert(f"stuck/{region}/{name}@{start_ms}", region, name, "stuck")
        for name, values in (("demand", demand), ("snsp", snsp))
        if _stuck(values, at)
    )
    return PolicyInputs(start_ms, tuple(forecasts), (plan,), (obs,), alerts)


def _apply(
    actions: list[ActionProposal],
    data: ReplayData,
    fleet: BatteryFleet,
    adj: Adjustments,
    at: int,
    end: int,
    offset: int,
    soc: float,
    previous_net: float,
) -> tuple[float, float]:
    """Apply executed actions on steps ``[at, end)``; returns the new SoC and last setpoint."""
    wanted = 0.0
    for a in actions:
        sl = slice(at - offset, end - offset)
        if a.kind is Kind.STORAGE_DISCHARGE:
            wanted = a.magnitude_mw
        elif a.kind is Kind.STORAGE_CHARGE:
            wanted = -a.magnitude_mw
        elif a.kind is Kind.DEMAND_RESPONSE:
            adj.demand_response_mw[sl] += a.magnitude_mw
        elif a.kind is Kind.WIND_CURTAIL:
            room = data.series["wind"][at:end] - adj.curtailed_mw[sl]
            adj.curtailed_mw[sl] += np.minimum(a.magnitude_mw, np.maximum(room, 0.0))
    dt, ec, ed = STEP_HOURS, fleet.charge_efficiency, fleet.discharge_efficiency
    ramp = fleet.ramp_mw_per_step if fleet.ramp_mw_per_step is not None else float("inf")
    for pos in range(at, end):
        room_in = max((fleet.soc_max_mwh - soc) / (dt * ec), 0.0)
        room_out = max((soc - fleet.soc_min_mwh) * ed / dt, 0.0)
        net = float(np.clip(wanted, previous_net - ramp, previous_net + ramp))
        net = float(np.clip(net, -min(room_in, fleet.charge_mw), min(room_out, fleet.discharge_mw)))
        soc += dt * (ec * max(-net, 0.0) - max(net, 0.0) / ed)
        adj.storage_net_mw[pos - offset] = net
        previous_net = net
    return soc, previous_net


def outcome(
    data: ReplayData, start: int, end: int, snsp_limit: float, adj: Adjustments | None = None
) -> dict[str, float]:
    """Peak net demand (MW), hours above the SNSP limit and CO2 (t) on ``[start, end)``,
    as recorded (``adj`` None) or with the actions' adjustments applied."""
    sl = slice(start, end)
    demand, wind, co2 = data.series["demand"][sl], data.series["wind"][sl], data.series["co2"][sl]
    snsp = snsp_fraction(data)[sl]
    zero = np.zeros(end - start)
    store = adj.storage_net_mw if adj else zero
    dr = adj.demand_response_mw if adj else zero
    cut = adj.curtailed_mw if adj else zero
    net = (demand - dr) - (wind - cut) - store
    snsp_after = (snsp * demand - cut + np.maximum(store, 0.0)) / (
        demand - dr + np.maximum(-store, 0.0)
    )
    supplied = demand - dr - store + cut
    return {
        "peak_net_demand_mw": round(float(net.max()), 1),
        "hours_above_snsp_limit": round(float((snsp_after > snsp_limit).sum()) * STEP_HOURS, 2),
        "co2_t": round(float((supplied * co2).sum()) * STEP_HOURS / 1000.0, 1),
    }


@dataclass
class Replay:
    """What the policy did over ``[start, end)``: per-step adjustments and action counts."""

    start: int
    end: int
    adjustments: Adjustments
    actions_by_kind: Counter[str]
    held: Counter[str]
    solves: int
    fallbacks: int


def replay_actions(
    data: ReplayData,
    fleet: BatteryFleet,
    start: int,
    end: int,
    policy: RebalancePolicy,
    decision_steps: int = 4,
    progress: Progress | None = None,
) -> Replay:
    """Run the policy every ``decision_steps`` and apply its executed actions."""
    if "snsp" not in data.series:
        raise ValidationError("recorded data has no SNSP series; add the SnspALL files")
    schedule = run_mpc(fleet, preset("mixed"), SeasonalNaive(), data, start, end, progress=progress)
    storage_net = schedule.discharge_mw - schedule.charge_mw
    n = end - start
    adj = Adjustments(np.zeros(n), np.zeros(n), np.zeros(n))
    snsp = snsp_fraction(data)
    soc, previous = fleet.initial_soc * fleet.energy_mwh, 0.0
    kinds: Counter[str] = Counter()
    held: Counter[str] = Counter()
    recent: list[ActionProposal] = []
    for at in range(start, end, decision_steps):
        stop = min(at + decision_steps, end)
        inputs = _inputs(data, fleet.region, at, stop, storage_net, start, snsp)
        actions = policy.decide(inputs, Mode.AUTOMATIC, recent)
        recent = [a for a in recent + actions if inputs.now_ms - a.created_at_ms < HOUR_MS]
        kinds.update(a.kind.value for a in actions)
        held.update(a.target for a in actions if a.kind is Kind.HOLD)
        soc, previous = _apply(actions, data, fleet, adj, at, stop, start, soc, previous)
        if progress is not None:
            progress(stop - at)
    return Replay(start, end, adj, kinds, held, len(schedule.solve_ms), schedule.fallbacks)


def run_rebalance_backtest(
    data: ReplayData,
    fleet: BatteryFleet,
    start: int,
    end: int,
    policy: RebalancePolicy | None = None,
    decision_steps: int = 4,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay ``[start, end)`` (grid positions, >= 8 days in) and report against doing nothing."""
    policy = policy or RebalancePolicy()
    cfg = policy.config
    replay = replay_actions(data, fleet, start, end, policy, decision_steps, progress)
    adj, kinds, held, n = replay.adjustments, replay.actions_by_kind, replay.held, end - start
    before = outcome(data, start, end, cfg.snsp_limit)
    after = outcome(data, start, end, cfg.snsp_limit, adj)
    return {
        "region": fleet.region,
        "from": str(data.index[start]),
        "to": str(data.index[end - 1]),
        "steps": n,
        "decision_minutes": decision_steps * 15,
        "forecast_source": "seasonal_naive (same time yesterday, P10/P90 from past-week errors)",
        "policy_version": POLICY_VERSION,
        "policy": {
            "snsp_limit": cfg.snsp_limit,
            "demand_response_threshold_mw": cfg.demand_response_threshold_mw,
            "deviation_gain": cfg.deviation_gain,
            "max_actions_per_hour": cfg.limits.max_actions_per_hour,
        },
        "fleet": fleet.model_dump(),
        "do_nothing": before,
        "with_actions": after,
        "delta": {k: round(after[k] - before[k], 2) for k in before},
        "actions_by_kind": {k.value: kinds.get(k.value, 0) for k in Kind},
        "actions_total": sum(kinds.values()),
        "held_series": dict(held),
        "energy_mwh": {k: round(float(v.sum()) * STEP_HOURS, 1) for k, v in asdict(adj).items()},
        "storage_schedule": {"solves": replay.solves, "fallbacks": replay.fallbacks},
        "notes": [
            "interconnector actions are counted, not applied: no recorded flows",
            "SNSP after = (SNSP*demand - curtailed + discharge) / (demand - DR + charge)",
            "CO2 = (demand - DR - storage + curtailed) x actual average intensity",
        ],
    }
