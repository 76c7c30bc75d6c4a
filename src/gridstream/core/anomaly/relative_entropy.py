"""Distribution shift: is the recent window's histogram unlike every regime seen before?

The last ``window`` values are binned into ``bins`` equal bins over the range seen so far.
The detector remembers up to ``max_regimes`` reference histograms ("regimes") and how often
each was matched. The recent histogram is compared with each by the G statistic
(``2 * n * KL(recent || reference)``), which is chi-square distributed with ``bins - 1``
degrees of freedom when both come from the same distribution. A window unlike every known
regime (G above the ``confidence`` quantile) is a new regime and scores by how far it is
past the quantile; a window matching only a rarely seen regime scores mildly. This catches
changes in shape or spread that leave single readings unremarkable (a feed that becomes
noisy, a daily pattern that breaks), which value-level z-scores miss.

When a reading falls outside the known range the bins are widened and the references, no
longer comparable, are forgotten; the value-level detectors judge such readings.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from gridstream.core.anomaly.base import Detector

_EPS = 1e-6


def chi2_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of chi-square with ``df`` degrees of freedom (Wilson-Hilferty)."""
    z = _normal_quantile(p)
    k = float(df)
    return k * (1.0 - 2.0 / (9.0 * k) + z * math.sqrt(2.0 / (9.0 * k))) ** 3


def _normal_quantile(p: float) -> float:
    """Standard normal quantile by bisection on ``erfc`` (called once per detector)."""
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


class RelativeEntropyDetector(Detector):
    """Score the recent window by how unlike every remembered regime its histogram is."""

    kind = "relative_entropy"

    def __init__(
        self,
        window: int = 52,
        bins: int = 5,
        max_regimes: int = 20,
        confidence: float = 0.99,
        rare_share: float = 0.01,
        min_history: int = 52,
        reset_on_widen: bool = False,
    ) -> None:
        self.reset_on_widen = reset_on_widen
        self.window = int(window)
        self.bins = int(bins)
        self.max_regimes = int(max_regimes)
        self.confidence = confidence
        self.rare_share = rare_share
        self.min_history = max(int(min_history), self.window)
        self._limit = chi2_quantile(confidence, self.bins - 1)
        self._recent: deque[float] = deque(maxlen=self.window)
        self._lo = math.inf
        self._hi = -math.inf
        self._seen = 0
        self._refs: list[list[float]] = []
        self._counts: list[int] = []
        self._log_refs: list[list[float]] = []
        self._bin_of: deque[int] = deque(maxlen=self.window)
        self._bin_counts = [0] * self.bins

    def _bin(self, value: float) -> int:
        width = (self._hi - self._lo) / self.bins
        k = int((value - self._lo) / width) if width > 0 else 0
        return min(max(k, 0), self.bins - 1)

    def _rebin(self) -> None:
        self._bin_of = deque((self._bin(v) for v in self._recent), maxlen=self.window)
        self._bin_counts = [0] * self.bins
        for k in self._bin_of:
            self._bin_counts[k] += 1

    def _push(self, value: float) -> None:
        widened = value < self._lo or value > self._hi
        if widened:
            self._lo, self._hi = min(self._lo, value), max(self._hi, value)
            if self.reset_on_widen:
                self._refs, self._counts, self._log_refs = [], [], []
        if len(self._bin_of) == self.window:
            self._bin_counts[self._bin_of[0]] -= 1
        self._recent.append(value)
        self._bin_of.append(self._bin(value))
        self._bin_counts[self._bin_of[-1]] += 1
        if widened:
            self._rebin()

    def _histogram(self) -> list[float]:
        n = float(len(self._recent))
        return [c / n for c in self._bin_counts]

    def _g_stats(self, p: list[float]) -> list[float]:
        """G statistic of ``p`` against every reference (log references are cached)."""
        if len(self._log_refs) != len(self._refs):
            self._log_refs = [[math.log(max(q, _EPS)) for q in ref] for ref in self._refs]
        support = [(pi, math.log(pi)) for pi in p if pi > 0]
        self_info = sum(pi * lp for pi, lp in support)
        n2 = 2.0 * len(self._recent)
        idx = [k for k, pi in enumerate(p) if pi > 0]
        return [n2 * (self_info - sum(p[k] * logs[k] for k in idx)) for logs in self._log_refs]

    def score_one(self, ts_ms: int, value: float) -> float:
        if not math.isfinite(value):
            return 1.0
        self._seen += 1
        self._push(value)
        if self._seen < self.min_history or self._hi <= self._lo:
            return 0.0
        hist = self._histogram()
        if not self._refs:
            self._refs, self._counts, self._log_refs = [hist], [1], []
            return 0.0
        stats = self._g_stats(hist)
        best = min(range(len(stats)), key=stats.__getitem__)
        if stats[best] > self._limit:
            self._remember(hist)
            excess = stats[best] / self._limit - 1.0
            return 0.5 + 0.5 * excess / (excess + 1.0)
        self._counts[best] += 1
        share = self._counts[best] / sum(self._counts)
        return 0.25 if share < self.rare_share else 0.0

    def _remember(self, hist: list[float]) -> None:
        if len(self._refs) >= self.max_regimes:
            drop = min(range(len(self._counts)), key=self._counts.__getitem__)
            del self._refs[drop], self._counts[drop]
            self._log_refs = []
        self._refs.append(hist)
        self._counts.append(1)

    def params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "bins": self.bins,
            "max_regimes": self.max_regimes,
            "confidence": self.confidence,
            "rare_share": self.rare_share,
            "min_history": self.min_history,
            "reset_on_widen": self.reset_on_widen,
        }

    def get_state(self) -> dict[str, Any]:
        finite = math.isfinite(self._lo)
        return {
            "recent": list(self._recent),
            "lo": self._lo if finite else None,
            "hi": self._hi if finite else None,
            "seen": self._seen,
            "refs": [list(r) for r in self._refs],
            "counts": list(self._counts),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._recent = deque((float(v) for v in state["recent"]), maxlen=self.window)
        self._lo = math.inf if state["lo"] is None else float(state["lo"])
        self._hi = -math.inf if state["hi"] is None else float(state["hi"])
        self._seen = int(state["seen"])
        self._refs = [[float(x) for x in r] for r in state["refs"]]
        self._counts = [int(c) for c in state["counts"]]
        self._rebin()
