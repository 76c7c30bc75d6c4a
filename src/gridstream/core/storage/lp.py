"""The storage linear program: variables, constraints and objective as sparse arrays.

Columns, for T steps: charge c_t, discharge d_t (MW), SoC s_t at the end of step t (MWh),
wind absorbed a_t (MW, only with a wind weight) and one horizon-peak variable P (MW, only
with a peak weight). Rows: SoC dynamics, ramp limits on net power d_t - c_t, the peak
epigraph (P >= net demand - d_t + c_t) and a_t <= c_t. Uncertainty enters through
``robustness``: charging is priced at a high quantile of CO2 intensity and price,
discharging at a low one, the peak is taken on high demand and low wind, and only wind
above the SNSP limit even at low wind is absorbable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.horizon import STEP_HOURS, FloatArray, HorizonForecast, Quantiles
from gridstream.core.storage.objectives import ObjectiveWeights

INF = float("inf")
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LpArrays:
    """A built LP in row-wise sparse form, ready for HiGHS."""

    steps: int
    col_cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    row_start: np.ndarray
    row_index: np.ndarray
    row_value: FloatArray
    terminal_relaxed: bool
    hold_value: float = 0.0  # the objective of doing nothing (peak term only)

    def col(self, block: int, t: int) -> int:
        return block * self.steps + t


C, D, S, A = 0, 1, 2, 3


class _Rows:
    """Rows in CSR form, added a block at a time: ``cols`` holds one row per line and
    ``vals`` the coefficients every row of the block shares, so a 96-step block is a few
    numpy operations instead of 96 Python appends."""

    def __init__(self) -> None:
        self.index: list[np.ndarray] = []
        self.value: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []

    def add(self, cols: list[int], vals: list[float], lo: float, hi: float) -> None:
        self.block(np.asarray([cols]), np.asarray(vals, dtype=np.float64), lo, hi)

    def block(
        self,
        cols: np.ndarray,
        vals: np.ndarray,
        lo: float | FloatArray,
        hi: float | FloatArray,
    ) -> None:
        rows, width = cols.shape
        self.index.append(cols.reshape(-1))
        self.value.append(np.tile(vals, rows))
        self.counts.append(np.full(rows, width, dtype=np.int64))
        self.lower.append(np.full(rows, lo) if np.isscalar(lo) else np.asarray(lo, np.float64))
        self.upper.append(np.full(rows, hi) if np.isscalar(hi) else np.asarray(hi, np.float64))

    def arrays(self) -> tuple[FloatArray, FloatArray, np.ndarray, np.ndarray, FloatArray]:
        """row lower, row upper, row starts, column indices, values."""
        if not self.counts:
            empty = np.zeros(0)
            return empty, empty, np.zeros(1, np.int32), np.zeros(0, np.int32), empty
        start = np.concatenate([[0], np.cumsum(np.concatenate(self.counts))])
        return (
            np.concatenate(self.lower).astype(np.float64),
            np.concatenate(self.upper).astype(np.float64),
            start.astype(np.int32),
            np.concatenate(self.index).astype(np.int32),
            np.concatenate(self.value).astype(np.float64),
        )


def _widened(q: Quantiles | None, amount: float) -> Quantiles | None:
    """``q`` with its centre moved ``amount`` of the way to P90 above the horizon's median
    P50 and to P10 below it; the band moves along (its width is kept)."""
    if q is None or amount <= 0 or len(q) == 0:
        return q
    above = q.p50 >= np.median(q.p50)
    shift = np.where(above, q.p90 - q.p50, q.p10 - q.p50) * amount
    return Quantiles(q.p10 + shift, q.p50 + shift, q.p90 + shift)


def _terminal_value(
    fleet: BatteryFleet, forecast: HorizonForecast, weights: ObjectiveWeights
) -> float:
    """Euro value of one MWh still stored at the horizon end: what discharging it later is
    expected to avoid, taken at a quantile of the horizon's forecast, after discharge losses."""
    q = weights.terminal_value_quantile
    assert q is not None
    value = 0.0
    co2, price = forecast.get("co2"), forecast.get("price")
    if weights.co2_eur_per_t > 0 and co2 is not None:
        value += weights.co2_eur_per_t / 1000.0 * float(np.quantile(co2.p50, q))
    if weights.cost_weight > 0 and price is not None:
        value += weights.cost_weight * float(np.quantile(price.p50, q))
    value -= fleet.throughput_cost_per_mwh + weights.throughput_penalty_eur_per_mwh
    return max(value, 0.0) * fleet.discharge_efficiency


def build_lp(
    fleet: BatteryFleet,
    forecast: HorizonForecast,
    weights: ObjectiveWeights,
    initial_soc_mwh: float,
    previous_net_mw: float = 0.0,
    forbid_charge: BoolArray | None = None,
    forbid_discharge: BoolArray | None = None,
) -> LpArrays:
    """Build the LP; ``forbid_*`` are boolean masks of steps where that direction is fixed to 0."""
    T = forecast.steps
    dt = STEP_HOURS
    k = weights.robustness
    demand, wind = forecast.get("demand"), forecast.get("wind")
    # only the columns an objective uses: a smaller LP solves faster
    use_peak = weights.peak_eur_per_mw > 0 and demand is not None
    use_wind = weights.wind_eur_per_mwh > 0 and demand is not None and wind is not None
    n = (4 if use_wind else 3) * T + (1 if use_peak else 0)
    peak_col = n - 1
    cost = np.zeros(n)
    lower = np.zeros(n)
    upper = np.zeros(n)
    upper[C * T : (C + 1) * T] = fleet.charge_mw
    upper[D * T : (D + 1) * T] = fleet.discharge_mw
    lower[S * T : (S + 1) * T] = fleet.soc_min_mwh
    upper[S * T : (S + 1) * T] = fleet.soc_max_mwh
    if forbid_charge is not None:
        upper[C * T : (C + 1) * T][forbid_charge] = 0.0
    if forbid_discharge is not None:
        upper[D * T : (D + 1) * T][forbid_discharge] = 0.0

    terminal_relaxed = False
    hold_value = 0.0
    if fleet.terminal_soc is not None:
        want = fleet.terminal_soc * fleet.energy_mwh
        reachable = initial_soc_mwh + T * dt * fleet.charge_efficiency * fleet.charge_mw
        if want > reachable:
            want, terminal_relaxed = reachable, True
        lower[S * T + T - 1] = max(lower[S * T + T - 1], want)

    # throughput (degradation) cost on every MWh in or out, plus the planning hurdle
    per_mwh = fleet.throughput_cost_per_mwh + weights.throughput_penalty_eur_per_mwh
    cost[C * T : (C + 1) * T] += dt * per_mwh
    cost[D * T : (D + 1) * T] += dt * per_mwh

    co2 = _widened(forecast.get("co2"), weights.spread_widening)
    if weights.co2_eur_per_t > 0 and co2 is not None:
        w = weights.co2_eur_per_t * dt / 1000.0  # gCO2/kWh == kgCO2/MWh -> tonnes
        cost[C * T : (C + 1) * T] += w * co2.upper(k)
        cost[D * T : (D + 1) * T] -= w * co2.lower(k)

    price = _widened(forecast.get("price"), weights.spread_widening)
    if weights.cost_weight > 0 and price is not None:
        cost[C * T : (C + 1) * T] += weights.cost_weight * dt * price.upper(k)
        cost[D * T : (D + 1) * T] -= weights.cost_weight * dt * price.lower(k)

    if weights.terminal_value_quantile is not None and T > 0:
        cost[S * T + T - 1] -= _terminal_value(fleet, forecast, weights)

    rows = _Rows()
    eta_c, eta_d = fleet.charge_efficiency, fleet.discharge_efficiency
    steps = np.arange(T)
    later = steps[1:]
    if T > 0:  # SoC dynamics: s_t - dt*eta_c*c_t + dt/eta_d*d_t - s_{t-1} = 0 (s_{-1}: initial)
        rows.add(
            [S * T, C * T, D * T], [1.0, -dt * eta_c, dt / eta_d], initial_soc_mwh, initial_soc_mwh
        )
        rows.block(
            np.stack([S * T + later, C * T + later, D * T + later, S * T + later - 1], axis=1),
            np.array([1.0, -dt * eta_c, dt / eta_d, -1.0]),
            0.0,
            0.0,
        )

    if fleet.ramp_mw_per_step is not None and T > 0:
        r = fleet.ramp_mw_per_step
        rows.add([D * T, C * T], [1.0, -1.0], previous_net_mw - r, previous_net_mw + r)
        rows.block(
            np.stack([D * T + later, C * T + later, D * T + later - 1, C * T + later - 1], axis=1),
            np.array([1.0, -1.0, -1.0, 1.0]),
            -r,
            r,
        )

    if use_peak and demand is not None:
        net = demand.upper(k) - (wind.lower(k) if wind is not None else 0.0)
        cost[peak_col] = weights.peak_eur_per_mw
        hold_value = weights.peak_eur_per_mw * float(net.max())
        lower[peak_col], upper[peak_col] = -INF, INF
        rows.block(
            np.stack([np.full(T, peak_col), C * T + steps, D * T + steps], axis=1),
            np.array([1.0, -1.0, 1.0]),
            np.asarray(net, dtype=np.float64),
            INF,
        )

    if use_wind and demand is not None and wind is not None:
        excess = np.maximum(0.0, wind.lower(k) - weights.snsp_limit * demand.p50)
        upper[A * T : (A + 1) * T] = np.minimum(excess, fleet.charge_mw)
        cost[A * T : (A + 1) * T] = -weights.wind_eur_per_mwh * dt
        rows.block(
            np.stack([A * T + steps, C * T + steps], axis=1), np.array([1.0, -1.0]), -INF, 0.0
        )

    row_lower, row_upper, row_start, row_index, row_value = rows.arrays()
    return LpArrays(
        steps=T,
        col_cost=cost,
        col_lower=lower,
        col_upper=upper,
        row_lower=row_lower,
        row_upper=row_upper,
        row_start=row_start,
        row_index=row_index,
        row_value=row_value,
        terminal_relaxed=terminal_relaxed,
        hold_value=hold_value,
    )
