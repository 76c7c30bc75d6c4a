"""Where a backtest's forecasts come from: the ForecastSource protocol and its implementations.

``at`` is the grid position of the first step to plan; actuals before ``at`` are known.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from gridstream.core.storage.horizon import FloatArray, HorizonForecast, Quantiles
from gridstream.core.storage.replay_data import ReplayData

DAY = 96
PLAN_SERIES = ("demand", "wind", "co2")


class ForecastSource(Protocol):
    """Gives the optimiser its view of the next ``steps`` steps."""

    name: str

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast: ...


def _start_ms(data: ReplayData, at: int) -> int:
    return int(data.index[at].value // 1_000_000)


class PerfectForesight:
    """The actuals themselves: the upper bound of what planning can achieve."""

    name = "perfect_foresight"

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast:
        end = min(at + steps, len(data))
        series = {k: Quantiles.exact(data.series[k][at:end]) for k in PLAN_SERIES}
        return HorizonForecast(_start_ms(data, at), series, ("actuals",), ("perfect",))


class SeasonalNaive:
    """Same time yesterday, with P10/P90 from that rule's errors over the past week."""

    name = "seasonal_naive"

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast:
        end = min(at + steps, len(data))
        series = {}
        for k in PLAN_SERIES:
            values = data.series[k]
            lag = np.arange(at, end) - DAY
            p50 = values[np.maximum(lag, 0)]
            lo, hi = max(DAY, at - 7 * DAY), at
            errors = values[lo:hi] - values[lo - DAY : hi - DAY] if hi > lo else np.zeros(1)
            q10, q90 = np.quantile(errors, [0.1, 0.9])
            series[k] = Quantiles.of(p50 + q10, p50, p50 + q90)
        return HorizonForecast(_start_ms(data, at), series, ("seasonal-naive",), ("naive",))


class FrameForecasts:
    """Forecasts from a frame ``issue_time, target_time, series, p10, p50, p90``.

    At each planning time the latest issue made with data before it is used; targets the
    issue does not cover are filled with same-time-yesterday actuals.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        data: ReplayData,
        name: str = "project_forecast",
        model_version: str = "project",
    ) -> None:
        self.name = name
        self.model_version = model_version
        # nanoseconds explicitly: pandas 3 frames may hold microseconds, and planning times
        # are compared as Timestamp.value (always ns)
        issue_ns = pd.DatetimeIndex(frame["issue_time"]).as_unit("ns").asi8
        self._issues = np.unique(issue_ns)
        issue_pos = np.searchsorted(self._issues, issue_ns)
        target_pos = data.index.get_indexer(pd.DatetimeIndex(frame["target_time"]))
        kinds = frame["series"].to_numpy()
        # per series: rows sorted by issue, with the first row of each issue
        self._rows: dict[str, tuple[np.ndarray, np.ndarray, FloatArray]] = {}
        for k in PLAN_SERIES:
            mask = (kinds == k) & (target_pos >= 0)
            order = np.argsort(issue_pos[mask], kind="stable")
            issues = issue_pos[mask][order]
            starts = np.searchsorted(issues, np.arange(len(self._issues) + 1))
            values = frame.loc[mask, ["p10", "p50", "p90"]].to_numpy(dtype=np.float64)[order]
            self._rows[k] = (starts, target_pos[mask][order], values)

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast:
        end = min(at + steps, len(data))
        known_until = data.index[at - 1].value if at > 0 else data.index[0].value
        issue = int(np.searchsorted(self._issues, known_until, side="right")) - 1
        wanted = np.arange(at, end)
        series = {}
        for k in PLAN_SERIES:
            naive = data.series[k][np.maximum(wanted - DAY, 0)]
            table = np.column_stack([naive, naive, naive])
            if issue >= 0:
                starts, targets, values = self._rows[k]
                lo, hi = starts[issue], starts[issue + 1]
                t, v = targets[lo:hi], values[lo:hi]
                keep = (t >= at) & (t < end)
                table[t[keep] - at] = v[keep]
            series[k] = Quantiles.of(table[:, 0], table[:, 1], table[:, 2])
        ids = (f"{self.name}@{self._issues[issue]}",) if issue >= 0 else ()
        return HorizonForecast(_start_ms(data, at), series, ids, (self.model_version,))


class Anchored:
    """Measurement feedback: shift a source's forecast by its latest observed error, fading
    with lead time (``tau_steps``), as a receding-horizon controller does.

    The error is the actual of the last known step ``at - 1`` minus what the source forecast
    for that step when it was planned, so a ramp in the signal is not mistaken for an error.
    """

    def __init__(self, inner: ForecastSource, tau_steps: float = 12.0) -> None:
        """``tau_steps`` <= 0: no feedback, the inner source's forecasts as they are."""
        self.inner = inner
        self.tau_steps = tau_steps
        self.name = inner.name

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast:
        fc = self.inner.horizon(data, at, steps)
        if at == 0 or self.tau_steps <= 0:
            return fc
        before = self.inner.horizon(data, at - 1, 1)
        decay = np.exp(-np.arange(fc.steps) / self.tau_steps)
        series = {}
        for k, q in fc.series.items():
            last = before.get(k)
            if k in data.series and last is not None and len(last):
                shift = (data.series[k][at - 1] - last.p50[0]) * decay
                series[k] = Quantiles(q.p10 + shift, q.p50 + shift, q.p90 + shift)
            else:
                series[k] = q
        return HorizonForecast(fc.start_ms, series, fc.ids, fc.model_versions)


class ErrorScaled:
    """A source's forecast with its errors against the actuals multiplied by ``factor``:
    0 gives perfect foresight, 1 the source itself, 0.5 a forecast half as wrong at every
    step and quantile (bands shrink with the errors).

    For value-of-information analysis only: it reads the actuals it is later scored on, so
    it answers "what would a better forecast be worth", never "what did we achieve".
    """

    def __init__(self, inner: ForecastSource, factor: float) -> None:
        if not np.isfinite(factor) or factor < 0:
            raise ValueError(f"error scale must be a finite number >= 0, got {factor}")
        self.inner = inner
        self.factor = factor
        self.name = f"{inner.name}_errors_x{factor:g}"

    def horizon(self, data: ReplayData, at: int, steps: int) -> HorizonForecast:
        fc = self.inner.horizon(data, at, steps)
        series = {}
        for k, q in fc.series.items():
            if k not in data.series:
                series[k] = q
                continue
            actual = data.series[k][at : at + len(q)]
            f = self.factor
            series[k] = Quantiles.of(
                actual + f * (q.p10 - actual),
                actual + f * (q.p50 - actual),
                actual + f * (q.p90 - actual),
            )
        return HorizonForecast(fc.start_ms, series, fc.ids, fc.model_versions)
