"""The optimiser's input: quantile forecasts of each series on a 15-minute grid."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gridstream.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
STEP_HOURS = 0.25
SERIES = ("demand", "wind", "co2", "price")


@dataclass(frozen=True)
class Quantiles:
    """P10/P50/P90 of one series over the horizon (same length, P10 <= P50 <= P90)."""

    p10: FloatArray
    p50: FloatArray
    p90: FloatArray

    @classmethod
    def exact(cls, values: npt.ArrayLike) -> Quantiles:
        """A known series (no uncertainty): all three quantiles equal."""
        arr = np.asarray(values, dtype=np.float64)
        return cls(arr, arr, arr)

    @classmethod
    def of(cls, p10: npt.ArrayLike, p50: npt.ArrayLike, p90: npt.ArrayLike) -> Quantiles:
        """Quantiles from arrays; crossing quantiles are sorted per step."""
        stacked = np.sort(
            np.vstack([np.asarray(a, dtype=np.float64) for a in (p10, p50, p90)]), axis=0
        )
        return cls(stacked[0], stacked[1], stacked[2])

    def __len__(self) -> int:
        return len(self.p50)

    def upper(self, kappa: float) -> FloatArray:
        """P50 moved ``kappa`` of the way to P90 (a cautious high value)."""
        return self.p50 + kappa * (self.p90 - self.p50)

    def lower(self, kappa: float) -> FloatArray:
        """P50 moved ``kappa`` of the way to P10 (a cautious low value)."""
        return self.p50 - kappa * (self.p50 - self.p10)


@dataclass(frozen=True)
class HorizonForecast:
    """Forecasts of ``demand``, ``wind`` (MW), ``co2`` (gCO2/kWh), ``price`` (EUR/MWh).

    ``start_ms`` is the start of the first step; steps are 15 minutes. Series that an
    objective does not need may be absent; ``ids`` and ``model_versions`` are the evidence
    carried into the published schedule.
    """

    start_ms: int
    series: Mapping[str, Quantiles]
    ids: tuple[str, ...] = field(default=())
    model_versions: tuple[str, ...] = field(default=())

    @property
    def steps(self) -> int:
        lengths = {len(q) for q in self.series.values()}
        return lengths.pop() if len(lengths) == 1 else 0

    def get(self, name: str) -> Quantiles | None:
        return self.series.get(name)

    def validate(self) -> None:
        """Raise ValidationError when the forecast cannot be planned on."""
        if not self.series:
            raise ValidationError("forecast has no series; send at least one of demand/wind/co2")
        unknown = set(self.series) - set(SERIES)
        if unknown:
            raise ValidationError(f"unknown forecast series {sorted(unknown)}; expected {SERIES}")
        lengths = {name: len(q) for name, q in self.series.items()}
        if len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise ValidationError(f"forecast series have unequal or zero lengths: {lengths}")
        every = [arr for q in self.series.values() for arr in (q.p10, q.p50, q.p90)]
        if np.isfinite(np.concatenate(every)).all():
            return
        for name, q in self.series.items():
            for arr in (q.p10, q.p50, q.p90):
                if not np.all(np.isfinite(arr)):
                    raise ValidationError(f"forecast {name} has missing or infinite values")
