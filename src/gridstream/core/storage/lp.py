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

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridstream.core.storage.fleet import BatteryFleet
from gridstream.core.storage.horizon import STEP_HOURS, FloatArray, HorizonForecast, Quantiles
from gridstream.core.storage.objectives import ObjectiveWeights

INF = float("inf")
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LpMatrix:
    """The constraint matrix of an LP structure, row-wise (CSR) and column-wise (CSC, what
    HiGHS solves on: passed as such it is not converted on every solve), and a key that
    names the structure (equal matrices, equal keys)."""

    num_col: int
    row_start: np.ndarray
    row_index: np.ndarray
    row_value: FloatArray
    col_start: np.ndarray
    col_index: np.ndarray
    col_value: FloatArray
    key: tuple[object, ...]
    #: every column continuous (HiGHS's array interface reads one per column)
    integrality: np.ndarray

    @property
    def num_row(self) -> int:
        return len(self.row_start) - 1

    @classmethod
    def of_rows(
        cls,
        num_col: int,
        start: np.ndarray,
        index: np.ndarray,
        value: FloatArray,
        key: tuple[object, ...],
    ) -> LpMatrix:
        """The matrix from CSR arrays; in the CSC arrays a column's entries are in row order
        (the order HiGHS's own row-to-column conversion gives)."""
        rows = np.repeat(np.arange(len(start) - 1, dtype=np.int32), np.diff(start))
        order = np.lexsort((rows, index))
        counts = np.bincount(index, minlength=num_col)
        col_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        continuous = np.zeros(num_col, dtype=np.int32)
        return cls(
            num_col, start, index, value, col_start, rows[order], value[order], key, continuous
        )


@dataclass(frozen=True)
class LpArrays:
    """A built LP in sparse form, ready for HiGHS."""

    steps: int
    col_cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    matrix: LpMatrix
    terminal_relaxed: bool
    hold_value: float = 0.0  # the objective of doing nothing (peak term only)

    @property
    def row_start(self) -> np.ndarray:
        return self.matrix.row_start

    @property
    def row_index(self) -> np.ndarray:
        return self.matrix.row_index

    @property
    def row_value(self) -> FloatArray:
        return self.matrix.row_value

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

    def add(self, cols: list[int], vals: list[float]) -> None:
        self.block(np.asarray([cols]), np.asarray(vals, dtype=np.float64))

    def block(self, cols: np.ndarray, vals: np.ndarray) -> None:
        rows, width = cols.shape
        self.index.append(cols.reshape(-1))
        self.value.append(np.tile(vals, rows))
        self.counts.append(np.full(rows, width, dtype=np.int64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, FloatArray]:
        """row starts, column indices, values."""
        if not self.counts:
            return np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0)
        start = np.concatenate([[0], np.cumsum(np.concatenate(self.counts))])
        return (
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

    ramp = fleet.ramp_mw_per_step if T > 0 else None
    matrix = _matrix(
        T, fleet.charge_efficiency, fleet.discharge_efficiency, ramp is not None, use_peak, use_wind
    )
    lows: list[FloatArray] = []
    highs: list[FloatArray] = []
    if T > 0:  # SoC dynamics: s_t - dt*eta_c*c_t + dt/eta_d*d_t - s_{t-1} = 0 (s_{-1}: initial)
        fixed = np.zeros(T)
        fixed[0] = initial_soc_mwh
        lows.append(fixed)
        highs.append(fixed)
    if ramp is not None:  # ramp limits on net power, from the previous plan's first step
        lows.append(np.full(T, -ramp))
        highs.append(np.full(T, ramp))
        lows[-1][0], highs[-1][0] = previous_net_mw - ramp, previous_net_mw + ramp

    if use_peak and demand is not None:
        net = demand.upper(k) - (wind.lower(k) if wind is not None else 0.0)
        cost[peak_col] = weights.peak_eur_per_mw
        hold_value = weights.peak_eur_per_mw * float(net.max())
        lower[peak_col], upper[peak_col] = -INF, INF
        lows.append(np.asarray(net, dtype=np.float64))
        highs.append(np.full(T, INF))

    if use_wind and demand is not None and wind is not None:
        excess = np.maximum(0.0, wind.lower(k) - weights.snsp_limit * demand.p50)
        upper[A * T : (A + 1) * T] = np.minimum(excess, fleet.charge_mw)
        cost[A * T : (A + 1) * T] = -weights.wind_eur_per_mwh * dt
        lows.append(np.full(T, -INF))
        highs.append(np.zeros(T))

    empty = np.zeros(0)
    return LpArrays(
        steps=T,
        col_cost=cost,
        col_lower=lower,
        col_upper=upper,
        row_lower=np.concatenate(lows) if lows else empty,
        row_upper=np.concatenate(highs) if highs else empty,
        matrix=matrix,
        terminal_relaxed=terminal_relaxed,
        hold_value=hold_value,
    )


@functools.lru_cache(maxsize=32)
def _matrix(
    T: int, eta_c: float, eta_d: float, ramp: bool, use_peak: bool, use_wind: bool
) -> LpMatrix:
    """The constraint matrix of one LP structure, built once: planning solves the same
    structure again and again, with new costs and bounds only. Rows: SoC dynamics, ramp
    limits, the peak epigraph, wind absorbed <= charge (bounds: :func:`build_lp`)."""
    dt = STEP_HOURS
    n = (4 if use_wind else 3) * T + (1 if use_peak else 0)
    rows = _Rows()
    steps = np.arange(T)
    later = steps[1:]
    if T > 0:
        rows.add([S * T, C * T, D * T], [1.0, -dt * eta_c, dt / eta_d])
        rows.block(
            np.stack([S * T + later, C * T + later, D * T + later, S * T + later - 1], axis=1),
            np.array([1.0, -dt * eta_c, dt / eta_d, -1.0]),
        )
    if ramp:
        rows.add([D * T, C * T], [1.0, -1.0])
        rows.block(
            np.stack([D * T + later, C * T + later, D * T + later - 1, C * T + later - 1], axis=1),
            np.array([1.0, -1.0, -1.0, 1.0]),
        )
    if use_peak:
        rows.block(
            np.stack([np.full(T, n - 1), C * T + steps, D * T + steps], axis=1),
            np.array([1.0, -1.0, 1.0]),
        )
    if use_wind:
        rows.block(np.stack([A * T + steps, C * T + steps], axis=1), np.array([1.0, -1.0]))
    start, index, value = rows.arrays()
    return LpMatrix.of_rows(n, start, index, value, (T, eta_c, eta_d, ramp, use_peak, use_wind))
