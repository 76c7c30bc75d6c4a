"""Run a storage strategy over recorded data: the receding-horizon MPC and the rule baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.forecast_sources import ForecastSource
from gridstream.core.storage.horizon import STEP_HOURS, FloatArray
from gridstream.core.storage.objectives import ObjectiveWeights
from gridstream.core.storage.planner import plan_schedule
from gridstream.core.storage.replay_data import ReplayData

DAY = 96
Progress = Callable[[int], None]


@dataclass
class StrategyRun:
    """What a strategy did on each executed step of ``[start, end)``."""

    name: str
    start: int
    end: int
    charge_mw: FloatArray
    discharge_mw: FloatArray
    soc_mwh: FloatArray
    initial_soc_mwh: float
    solve_ms: list[float] = field(default_factory=list)
    fallbacks: int = 0
    fallback_reasons: list[str] = field(default_factory=list)


def run_mpc(
    fleet: BatteryFleet,
    weights: ObjectiveWeights,
    source: ForecastSource,
    data: ReplayData,
    start: int,
    end: int,
    horizon_steps: int = DAY,
    replan_steps: int = 4,
    name: str | None = None,
    progress: Progress | None = None,
) -> StrategyRun:
    """Plan every ``replan_steps`` on the source's forecast and execute the first steps."""
    n = end - start
    charge, discharge, soc = np.zeros(n), np.zeros(n), np.zeros(n)
    state = fleet.initial_soc * fleet.energy_mwh
    run = StrategyRun(name or source.name, start, end, charge, discharge, soc, state)
    previous_net = 0.0
    for at in range(start, end, replan_steps):
        forecast = source.horizon(data, at, horizon_steps)
        plan = plan_schedule(fleet, forecast, weights, state, previous_net)
        run.solve_ms.append(plan.solve_ms)
        if plan.fallback:
            run.fallbacks += 1
            if len(run.fallback_reasons) < 5:
                run.fallback_reasons.append(plan.reason)
        take = min(replan_steps, end - at, plan.steps)
        i = at - start
        charge[i : i + take] = plan.charge_mw[:take]
        discharge[i : i + take] = plan.discharge_mw[:take]
        soc[i : i + take] = plan.soc_mwh[:take]
        if take:
            state = float(plan.soc_mwh[take - 1])
            previous_net = float(plan.discharge_mw[take - 1] - plan.charge_mw[take - 1])
        if progress is not None:
            progress(min(replan_steps, end - at))
    return run


def run_rule(
    fleet: BatteryFleet,
    signal: FloatArray,
    data: ReplayData,
    start: int,
    end: int,
    name: str = "rule_baseline",
    progress: Progress | None = None,
) -> StrategyRun:
    """Charge at full power while ``signal`` is below the previous day's median, discharge
    above it, within SoC, power and ramp limits (the issue's rule-based baseline)."""
    n = end - start
    charge, discharge, soc = np.zeros(n), np.zeros(n), np.zeros(n)
    state = fleet.initial_soc * fleet.energy_mwh
    run = StrategyRun(name, start, end, charge, discharge, soc, state)
    dt, ec, ed = STEP_HOURS, fleet.charge_efficiency, fleet.discharge_efficiency
    ramp = fleet.ramp_mw_per_step if fleet.ramp_mw_per_step is not None else float("inf")
    previous_net, threshold = 0.0, float("nan")
    for at in range(start, end):
        if (at - start) % DAY == 0 or np.isnan(threshold):
            threshold = float(np.median(signal[max(0, at - DAY) : max(at, 1)]))
        room_in = (fleet.soc_max_mwh - state) / (dt * ec)
        room_out = (state - fleet.soc_min_mwh) * ed / dt
        if signal[at] < threshold:
            net = -min(fleet.charge_mw, max(room_in, 0.0))
        elif signal[at] > threshold:
            net = min(fleet.discharge_mw, max(room_out, 0.0))
        else:
            net = 0.0
        net = float(np.clip(net, previous_net - ramp, previous_net + ramp))
        net = float(np.clip(net, -max(room_in, 0.0), max(room_out, 0.0)))
        i = at - start
        charge[i], discharge[i] = max(-net, 0.0), max(net, 0.0)
        state += dt * (ec * charge[i] - discharge[i] / ed)
        soc[i] = state
        previous_net = net
        if progress is not None:
            progress(1)
    return run
