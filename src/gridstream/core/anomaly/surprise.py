"""A predictive detector: how surprising is the reading given a seasonal-naive prediction?

The predictions for time ``t`` are the values one season earlier (a day by default) when
known, else the previous value. With several seasons (``week_ms`` as well as the day), the
error is the one of the prediction closest to the reading: a reading is surprising only when
it is unlike yesterday *and* unlike the same time last week, so the first working day after a
weekend or the first Saturday morning is judged against the week before rather than against
the day before. The surprise is the robust z of that error against the trailing distribution
of past errors, so series with strong daily shape (demand) and series without (a sensor) are
judged on the same scale.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

from gridstream.core.anomaly.base import Detector
from gridstream.core.anomaly.robust_zscore import robust_scale, z_to_score
from gridstream.core.anomaly.rolling import SortedWindow

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


class PredictiveSurpriseDetector(Detector):
    """Score a value by the robust z of its seasonal-naive prediction error."""

    kind = "predictive_surprise"

    def __init__(
        self,
        season_ms: int = DAY_MS,
        error_window: int = 672,
        min_history: int = 24,
        z_half: float = 4.0,
        rel_floor: float = 0.02,
        abs_floor: float = 1e-6,
        tolerance_ms: int = 60_000,
        week_ms: int = 0,
    ) -> None:
        self.season_ms = season_ms
        #: a second, longer season (0: none); the error is that of the closer prediction
        self.week_ms = week_ms
        self.error_window = error_window
        self.min_history = min_history
        self.z_half = z_half
        self.rel_floor = rel_floor
        self.abs_floor = abs_floor
        self.tolerance_ms = tolerance_ms
        self._times: deque[int] = deque()
        self._values: deque[float] = deque()
        self._errors = SortedWindow(error_window)
        self.last_z = 0.0
        self.last_prediction = math.nan

    def _recorded(self, target: int) -> float:
        i = bisect.bisect_left(self._times, target - self.tolerance_ms)
        if i < len(self._times) and abs(self._times[i] - target) <= self.tolerance_ms:
            return self._values[i]
        return math.nan

    def predict(self, ts_ms: int, value: float = math.nan) -> float:
        """The value one season before ``ts_ms`` if recorded, else the last value (or NaN).

        With a week season too and the reading's ``value`` given, the one of the two seasonal
        values closer to it.
        """
        if not self._values:
            return math.nan
        day = self._recorded(ts_ms - self.season_ms)
        if self.week_ms > 0 and not math.isnan(value):
            week = self._recorded(ts_ms - self.week_ms)
            if math.isnan(day) or (not math.isnan(week) and abs(value - week) < abs(value - day)):
                day = week
        return self._values[-1] if math.isnan(day) else day

    def score_one(self, ts_ms: int, value: float) -> float:
        prediction = self.predict(ts_ms, value)
        z = 0.0
        if not math.isnan(prediction):
            error = value - prediction
            if len(self._errors) >= self.min_history:
                med = self._errors.median()
                scale = robust_scale(self._errors, self.rel_floor, self.abs_floor)
                z = abs(error - med) / scale
            self._errors.push(error)
        self._times.append(ts_ms)
        self._values.append(value)
        horizon = ts_ms - max(self.season_ms, self.week_ms) - self.tolerance_ms
        while self._times and self._times[0] < horizon:
            self._times.popleft()
            self._values.popleft()
        self.last_z, self.last_prediction = z, prediction
        return z_to_score(z, self.z_half)

    def params(self) -> dict[str, Any]:
        return {
            "season_ms": self.season_ms,
            "error_window": self.error_window,
            "min_history": self.min_history,
            "z_half": self.z_half,
            "rel_floor": self.rel_floor,
            "abs_floor": self.abs_floor,
            "tolerance_ms": self.tolerance_ms,
            "week_ms": self.week_ms,
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "times": list(self._times),
            "values": list(self._values),
            "errors": self._errors.values(),
            "last_z": self.last_z,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._times = deque(int(t) for t in state["times"])
        self._values = deque(float(v) for v in state["values"])
        self._errors = SortedWindow(self.error_window, [float(e) for e in state["errors"]])
        self.last_z = float(state["last_z"])
