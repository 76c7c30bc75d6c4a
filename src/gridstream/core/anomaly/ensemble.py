"""The default streaming detector: several causal detectors, combined.

Each component scores the reading; the ensemble keeps the strongest evidence (each component
weighted by ``alarm_weights``, default 1), then suppresses repeats: after an alarm-level score,
later scores are damped for ``refractory`` readings, or a score is kept only when it tops every
score of the recent past (``peak_span_ms`` of event time, or ``peak_window`` readings), because
one incident should raise one alarm, not a burst of them. The point components (robust z of
the value and of the seasonal-naive error) always run: their robust z (``last_point_z``) is
per-reading evidence for callers that label every reading, even when their alarm weight is 0.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from gridstream.core.anomaly.base import Detector
from gridstream.core.anomaly.context_novelty import ContextNoveltyDetector
from gridstream.core.anomaly.relative_entropy import RelativeEntropyDetector
from gridstream.core.anomaly.robust_zscore import RobustZScoreDetector, robust_scale
from gridstream.core.anomaly.rolling import SortedWindow
from gridstream.core.anomaly.surprise import PredictiveSurpriseDetector

_LOG10_TAIL_FLOOR = 12.0  # a tail probability of 1e-12 or less scores 1


class EnsembleDetector(Detector):
    """Point detectors, regime and context detectors, max-combined, with alarm suppression."""

    kind = "ensemble"

    def __init__(
        self,
        zscore: dict[str, Any] | None = None,
        surprise: dict[str, Any] | None = None,
        alarm_level: float = 0.5,
        refractory: int = 0,
        damping: float = 0.5,
        likelihood_window: int = 0,
        short_window: int = 1,
        entropy: dict[str, Any] | None = None,
        peak_window: int = 0,
        context: dict[str, Any] | None = None,
        alarm_weights: dict[str, float] | None = None,
        peak_span_ms: int = 0,
    ) -> None:
        #: peak-only suppression over a span of event time (0: ``peak_window`` readings)
        self.peak_span_ms = int(peak_span_ms)
        self.context = None if context is None else ContextNoveltyDetector(**context)
        self.alarm_weights = {str(k): float(w) for k, w in (alarm_weights or {}).items()}
        self.peak_window = peak_window
        self._peaks: deque[tuple[int, float]] = deque()
        self._n = 0
        self.zscore_params = dict(zscore or {})
        self.surprise_params = dict(surprise or {})
        self.alarm_level = alarm_level
        self.refractory = refractory
        self.damping = damping
        self.zscore = RobustZScoreDetector(**self.zscore_params)
        self.surprise = PredictiveSurpriseDetector(**self.surprise_params)
        self.entropy = None if entropy is None else RelativeEntropyDetector(**entropy)
        self.likelihood_window = likelihood_window
        self.short_window = short_window
        self._raw_history = SortedWindow(max(likelihood_window, 1))
        self._recent: deque[float] = deque(maxlen=max(short_window, 1))
        self._quiet_left = 0
        self.last_components: dict[str, float] = {}

    def score_one(self, ts_ms: int, value: float) -> float:
        parts = {
            self.zscore.kind: self.zscore.score_one(ts_ms, value),
            self.surprise.kind: self.surprise.score_one(ts_ms, value),
        }
        if self.entropy is not None:
            parts[self.entropy.kind] = self.entropy.score_one(ts_ms, value)
        if self.context is not None:
            parts[self.context.kind] = self.context.score_one(ts_ms, value)
        self.last_components = parts
        weights = self.alarm_weights
        score = self._likelihood(max(weights.get(k, 1.0) * v for k, v in parts.items()))
        if self.peak_span_ms > 0:
            return self._peak_only(score, ts_ms, self.peak_span_ms)
        if self.peak_window > 0:
            self._n += 1
            return self._peak_only(score, self._n, self.peak_window)
        if self._quiet_left > 0:
            self._quiet_left -= 1
            return score * self.damping
        if score >= self.alarm_level:
            self._quiet_left = self.refractory
        return score

    @property
    def last_point_z(self) -> float:
        """The larger robust z of the last reading (value and prediction error).

        This is per-reading evidence without the regime-shift component or the alarm
        suppression, for callers that label every reading rather than raise alarms.
        """
        return max(self.zscore.last_z, self.surprise.last_z)

    def _peak_only(self, score: float, now: int, span: int) -> float:
        """Keep a score only when it tops every score of the last ``span`` before ``now``.

        ``now`` and ``span`` are both event time (ms) or both reading counts. The remembered
        peaks are the decreasing maxima of the span (oldest first), so the first is the top.
        """
        peaks = self._peaks
        while peaks and peaks[0][0] <= now - span:
            peaks.popleft()
        top = peaks[0][1] if peaks else -1.0
        while peaks and peaks[-1][1] <= score:
            peaks.pop()
        peaks.append((now, score))
        return score if score > top else score * self.damping

    def _likelihood(self, raw: float) -> float:
        """How unusual the recent raw scores are against this series' own history.

        The short-term mean of raw scores is placed against the Gaussian fitted (robustly)
        to past short-term means; the tail probability becomes the score, so every series
        is judged against its usual level of surprise.
        """
        if self.likelihood_window <= 0:
            return raw
        self._recent.append(raw)
        level = sum(self._recent) / len(self._recent)
        hist = self._raw_history
        if len(hist) < min(self.likelihood_window, 64):
            hist.push(level)
            return 0.5 * raw
        center = hist.median()
        scale = max(robust_scale(hist, 0.0, 1e-3), 1e-3)
        hist.push(level)
        z = (level - center) / scale
        tail = max(0.5 * math.erfc(z / math.sqrt(2.0)), 1e-300)
        return min(1.0, -math.log10(tail) / _LOG10_TAIL_FLOOR)

    def params(self) -> dict[str, Any]:
        return {
            "zscore": self.zscore.params(),
            "surprise": self.surprise.params(),
            "alarm_level": self.alarm_level,
            "refractory": self.refractory,
            "damping": self.damping,
            "likelihood_window": self.likelihood_window,
            "short_window": self.short_window,
            "entropy": None if self.entropy is None else self.entropy.params(),
            "peak_window": self.peak_window,
            "context": None if self.context is None else self.context.params(),
            "alarm_weights": dict(self.alarm_weights),
            "peak_span_ms": self.peak_span_ms,
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "zscore": self.zscore.get_state(),
            "surprise": self.surprise.get_state(),
            "quiet_left": self._quiet_left,
            "raw_history": self._raw_history.values(),
            "recent": list(self._recent),
            "entropy": None if self.entropy is None else self.entropy.get_state(),
            "n": self._n,
            "peaks": [list(p) for p in self._peaks],
            "context": None if self.context is None else self.context.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.zscore.set_state(state["zscore"])
        self.surprise.set_state(state["surprise"])
        if self.entropy is not None and state.get("entropy") is not None:
            self.entropy.set_state(state["entropy"])
        if self.context is not None and state.get("context") is not None:
            self.context.set_state(state["context"])
        self._quiet_left = int(state["quiet_left"])
        # states written before suppression existed start with no remembered peaks
        self._n = int(state.get("n", 0))
        self._peaks = deque((int(i), float(v)) for i, v in state.get("peaks", []))
        self._raw_history = SortedWindow(
            max(self.likelihood_window, 1), [float(v) for v in state["raw_history"]]
        )
        self._recent = deque((float(v) for v in state["recent"]), maxlen=max(self.short_window, 1))
