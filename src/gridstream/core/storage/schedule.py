"""The optimiser's output: a storage schedule, the safe hold schedule, and its limit check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.horizon import STEP_HOURS, FloatArray

STEP_MS = int(STEP_HOURS * 3_600_000)
TOLERANCE_MW = 1e-6


@dataclass(frozen=True)
class ScheduleResult:
    """Setpoints and SoC per 15-minute step; ``soc_mwh[i]`` is the SoC at the END of step i.

    ``objective_value`` is in euro-equivalent relative to holding (negative: better).
    """

    region: str
    start_ms: int
    objective: str
    charge_mw: FloatArray
    discharge_mw: FloatArray
    soc_mwh: FloatArray
    initial_soc_mwh: float
    objective_value: float
    status: str
    solve_ms: float
    fallback: bool = False
    reason: str = ""
    forecast_ids: tuple[str, ...] = field(default=())
    model_versions: tuple[str, ...] = field(default=())

    @property
    def steps(self) -> int:
        return len(self.charge_mw)

    @property
    def net_mw(self) -> FloatArray:
        """Discharge minus charge: what the fleet adds to supply (MW)."""
        return self.discharge_mw - self.charge_mw

    def step_times_ms(self) -> list[int]:
        return [self.start_ms + i * STEP_MS for i in range(self.steps)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``GET /schedule``)."""
        return {
            "region": self.region,
            "start_ms": self.start_ms,
            "objective": self.objective,
            "objective_value": self.objective_value,
            "status": self.status,
            "solve_ms": self.solve_ms,
            "fallback": self.fallback,
            "reason": self.reason,
            "forecast_ids": list(self.forecast_ids),
            "model_versions": list(self.model_versions),
            "initial_soc_mwh": self.initial_soc_mwh,
            "steps": [
                {"ts_ms": ts, "charge_mw": float(c), "discharge_mw": float(d), "soc_mwh": float(s)}
                for ts, c, d, s in zip(
                    self.step_times_ms(),
                    self.charge_mw,
                    self.discharge_mw,
                    self.soc_mwh,
                    strict=True,
                )
            ],
        }


def hold_schedule(
    fleet: BatteryFleet,
    start_ms: int,
    steps: int,
    initial_soc_mwh: float,
    objective: str,
    reason: str,
    solve_ms: float = 0.0,
    status: str = "fallback",
) -> ScheduleResult:
    """The safe schedule: no charge, no discharge, SoC held where it is."""
    zeros = np.zeros(steps)
    return ScheduleResult(
        region=fleet.region,
        start_ms=start_ms,
        objective=objective,
        charge_mw=zeros,
        discharge_mw=zeros.copy(),
        soc_mwh=np.full(steps, float(initial_soc_mwh)),
        initial_soc_mwh=float(initial_soc_mwh),
        objective_value=0.0,
        status=status,
        solve_ms=solve_ms,
        fallback=True,
        reason=reason,
    )


def soc_trajectory(
    fleet: BatteryFleet, initial_soc_mwh: float, charge: FloatArray, discharge: FloatArray
) -> FloatArray:
    """SoC at the end of each step for the given setpoints."""
    delta = STEP_HOURS * (fleet.charge_efficiency * charge - discharge / fleet.discharge_efficiency)
    return np.asarray(initial_soc_mwh + np.cumsum(delta), dtype=np.float64)


def limit_violations(
    fleet: BatteryFleet, result: ScheduleResult, previous_net_mw: float = 0.0, tol: float = 1e-4
) -> list[str]:
    """Every way the schedule breaks the fleet's limits (empty when it is safe)."""
    out: list[str] = []
    c, d = result.charge_mw, result.discharge_mw
    if (c < -tol).any() or (d < -tol).any():
        out.append("negative setpoint")
    if (c > fleet.charge_mw + tol).any():
        out.append(f"charge above {fleet.charge_mw} MW")
    if (d > fleet.discharge_mw + tol).any():
        out.append(f"discharge above {fleet.discharge_mw} MW")
    if (np.minimum(c, d) > tol).any():
        out.append("simultaneous charge and discharge")
    soc = soc_trajectory(fleet, result.initial_soc_mwh, c, d)
    same = np.array_equal(soc, result.soc_mwh)  # the planner's own SoC: no tolerance to test
    if not same and not np.allclose(soc, result.soc_mwh, atol=max(tol, 1e-6 * fleet.energy_mwh)):
        out.append("published SoC does not follow from the setpoints")
    if result.fallback:
        return out  # a hold keeps the SoC where it is, even if that is outside the bounds
    if (soc < fleet.soc_min_mwh - tol).any() or (soc > fleet.soc_max_mwh + tol).any():
        out.append("SoC outside [soc_min, soc_max]")
    if fleet.ramp_mw_per_step is not None and len(c):
        steps = np.diff(np.concatenate([[previous_net_mw], d - c]))
        if (np.abs(steps) > fleet.ramp_mw_per_step + tol).any():
            out.append(f"net power ramps more than {fleet.ramp_mw_per_step} MW per step")
    return out
