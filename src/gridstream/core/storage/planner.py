"""plan_schedule: one receding-horizon step of the storage optimiser (HiGHS LP).

Never raises for a bad forecast, an infeasible configuration or a solver failure: it returns
a hold schedule with ``fallback=True`` and the reason, for the service to publish and to
report as a health event.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.horizon import FloatArray, HorizonForecast
from gridstream.core.storage.lp import C, D, LpArrays, S, build_lp
from gridstream.core.storage.objectives import ObjectiveWeights
from gridstream.core.storage.schedule import (
    TOLERANCE_MW,
    ScheduleResult,
    hold_schedule,
    limit_violations,
    soc_trajectory,
)
from gridstream.core.storage.solver import solve_lp
from gridstream.errors import GridstreamError

log = logging.getLogger(__name__)


def _unpack(lp: LpArrays, values: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    T = lp.steps
    c = np.clip(values[C * T : (C + 1) * T], 0.0, None)
    d = np.clip(values[D * T : (D + 1) * T], 0.0, None)
    return c, d, values[S * T : (S + 1) * T]


def _net_forward(
    fleet: BatteryFleet, initial: float, c: FloatArray, d: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Net out simultaneous charge/discharge step by step, keeping SoC within bounds."""
    c, d = c.copy(), d.copy()
    both = np.minimum(c, d)
    c -= both
    d -= both
    soc = initial
    for t in range(len(c)):
        nxt = soc + 0.25 * (fleet.charge_efficiency * c[t] - d[t] / fleet.discharge_efficiency)
        if nxt > fleet.soc_max_mwh and c[t] > 0:  # netting saved losses: charge a little less
            c[t] = max(0.0, c[t] - (nxt - fleet.soc_max_mwh) / (0.25 * fleet.charge_efficiency))
            nxt = soc + 0.25 * (fleet.charge_efficiency * c[t] - d[t] / fleet.discharge_efficiency)
        soc = nxt
    return c, d


#: re-solves with more steps pinned to one direction before netting the flows instead
SIMULTANEOUS_ROUNDS = 6


def _one_direction_per_step(
    fleet: BatteryFleet,
    forecast: HorizonForecast,
    weights: ObjectiveWeights,
    soc0: float,
    previous_net_mw: float,
    c: FloatArray,
    d: FloatArray,
    objective_value: float,
) -> tuple[FloatArray, FloatArray, float]:
    """Setpoints without simultaneous charge and discharge.

    An LP can charge and discharge in one step when burning energy in the round trip pays
    (a wind-absorption credit, a peak already shaved). Each round pins every step where
    that happened to the direction of its net flow and solves again; pinning can move the
    habit to other steps, so the pins accumulate over up to ``SIMULTANEOUS_ROUNDS`` rounds.
    If it persists (or a round is infeasible), the flows are netted step by step."""
    no_charge = np.zeros(len(c), dtype=bool)
    no_discharge = np.zeros(len(c), dtype=bool)
    for _ in range(SIMULTANEOUS_ROUNDS):
        simultaneous = np.minimum(c, d) > TOLERANCE_MW * max(fleet.charge_mw, 1.0)
        if not simultaneous.any():
            return c, d, objective_value
        net = d - c
        no_charge |= simultaneous & (net >= 0)
        no_discharge |= simultaneous & (net < 0)
        lp = build_lp(
            fleet,
            forecast,
            weights,
            soc0,
            previous_net_mw,
            forbid_charge=no_charge,
            forbid_discharge=no_discharge,
        )
        _, values, pinned_value = solve_lp(lp)
        if values is None:
            break
        c, d, _ = _unpack(lp, values)
        objective_value = pinned_value
    c, d = _net_forward(fleet, soc0, c, d)
    return c, d, objective_value


def plan_schedule(
    fleet: BatteryFleet,
    forecast: HorizonForecast,
    weights: ObjectiveWeights,
    initial_soc_mwh: float | None = None,
    previous_net_mw: float = 0.0,
) -> ScheduleResult:
    """Optimal setpoints for the forecast horizon, or a hold schedule with the reason."""
    started = time.perf_counter()
    soc0 = fleet.initial_soc * fleet.energy_mwh if initial_soc_mwh is None else initial_soc_mwh
    objective = weights.name
    steps = max(forecast.steps, 0)

    def hold(reason: str, status: str = "fallback") -> ScheduleResult:
        log.warning("storage %s: holding, %s", fleet.region, reason)
        elapsed = (time.perf_counter() - started) * 1000.0
        return hold_schedule(
            fleet, forecast.start_ms, steps, soc0, objective, reason, elapsed, status
        )

    try:
        forecast.validate()
        if not np.isfinite(soc0):
            return hold("initial SoC is not a number; check the SoC telemetry")
        lp = build_lp(fleet, forecast, weights, soc0, previous_net_mw)
        status, values, objective_value = solve_lp(lp)
        if values is None:
            return hold(
                f"solver status {status}: no feasible schedule for these limits "
                f"(initial SoC {soc0:.1f} MWh)",
                status,
            )
        c, d, soc = _unpack(lp, values)
        c, d, objective_value = _one_direction_per_step(
            fleet, forecast, weights, soc0, previous_net_mw, c, d, objective_value
        )
        c = np.where(c > TOLERANCE_MW, c, 0.0)
        d = np.where(d > TOLERANCE_MW, d, 0.0)
        soc = soc_trajectory(fleet, soc0, c, d)
        elapsed = (time.perf_counter() - started) * 1000.0
        reason = "terminal SoC unreachable in this horizon; relaxed" if lp.terminal_relaxed else ""
        result = ScheduleResult(
            region=fleet.region,
            start_ms=forecast.start_ms,
            objective=objective,
            charge_mw=c,
            discharge_mw=d,
            soc_mwh=soc,
            initial_soc_mwh=float(soc0),
            objective_value=objective_value - lp.hold_value,
            status=status,
            solve_ms=elapsed,
            reason=reason,
            forecast_ids=tuple(forecast.ids),
            model_versions=tuple(forecast.model_versions),
        )
        problems = limit_violations(fleet, result, previous_net_mw)
        if problems:
            return hold("optimised schedule failed its limit check: " + "; ".join(problems))
        return result
    except GridstreamError as exc:
        return hold(f"invalid input: {exc}")
    except Exception as exc:  # the solver must never take the service down
        log.exception("storage %s: optimiser failed", fleet.region)
        return hold(f"optimiser error {type(exc).__name__}: {exc}", "error")
