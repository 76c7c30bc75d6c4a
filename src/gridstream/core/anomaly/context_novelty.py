"""Context novelty: has the series ever been in this situation before?

Readings are quantised into value levels (bins fixed after a warm-up: ``bins`` equal bins
over the warm-up range, extended beyond it as needed, so a new extreme is a new level). The
stream of levels is read as runs ``(level, duration class)`` with duration classes doubling
(1, 2-3, 4-7, ...). Every reading yields four contexts of growing order:

* the level itself (a value never seen before: a jump, a spike, a new plateau);
* the level with the current run's duration class (a level held longer than ever: a stuck
  feed, a flatline);
* the previous run, then this level and duration (an unseen transition: a spike where the
  series used to rest, a step of unusual size);
* the two previous runs, then this level and duration (an unseen rhythm: spikes arriving
  more often than before).

A context never seen before is novel. How surprising novelty is depends on the series: a
noisy series meets new contexts all the time, a regular one rarely. For each order the
detector keeps the share of past readings whose context was new (the Good-Turing estimate of
meeting an unseen context) and scores a novel context by ``-log10`` of that share; the surprise
is summed over the orders and ``surprise_full`` decades score 1. Everything learned is a set of
context keys and a few counters, so the state is small and plain.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

from gridstream.core.anomaly.base import Detector
from gridstream.errors import ValidationError

ORDERS = 4
_MIN_WIDTH = 1e-12


class ContextNoveltyDetector(Detector):
    """Score a reading by how surprising it is that its recent context is new."""

    kind = "context_novelty"

    def __init__(
        self,
        warmup: int = 150,
        bins: int = 10,
        surprise_full: float = 8.0,
        max_contexts: int = 200_000,
    ) -> None:
        if bins < 2 or warmup < 2:
            raise ValidationError(
                f"context novelty needs bins >= 2 and warmup >= 2 (got {bins}, {warmup}); "
                "fix the detector parameters"
            )
        self.warmup = int(warmup)
        self.bins = int(bins)
        self.surprise_full = float(surprise_full)
        self.max_contexts = int(max_contexts)
        self._warm: list[float] = []
        self._origin = math.nan
        self._width = math.nan
        self._seen: set[str] = set()
        # the sorted contexts for get_state, kept sorted as they are added (None: to sort
        # once, after set_state): the state is written after every batch that touches the
        # series, and re-sorting thousands of contexts for each new one cost more than that
        self._seen_sorted: list[str] | None = []
        self._novel = [0] * ORDERS
        self._total = [0] * ORDERS
        self._runs: deque[tuple[int, int]] = deque(maxlen=2)
        self._level: int | None = None
        self._run_length = 0
        self.last_surprise = 0.0

    @property
    def ready(self) -> bool:
        """Whether the warm-up is over and the levels are fixed."""
        return not math.isnan(self._origin)

    def _level_of(self, value: float) -> int:
        return math.floor((value - self._origin) / self._width)

    def _fix_levels(self) -> None:
        lo, hi = min(self._warm), max(self._warm)
        # the warm-up extremes sit at the centres of the outer bins, so noise around them
        # stays on one level instead of flickering across a bin edge
        self._width = max((hi - lo) / (self.bins - 1), 1e-9 * max(1.0, abs(hi)), _MIN_WIDTH)
        self._origin = lo - 0.5 * self._width
        for value in self._warm:
            self._observe(self._level_of(value), learn_only=True)
        self._warm = []

    def score_one(self, ts_ms: int, value: float) -> float:
        if not math.isfinite(value):
            self.last_surprise = math.inf
            return 1.0
        if not self.ready:
            self._warm.append(value)
            if len(self._warm) >= self.warmup:
                self._fix_levels()
            self.last_surprise = 0.0
            return 0.0
        surprise = self._observe(self._level_of(value), learn_only=False)
        self.last_surprise = surprise
        return min(1.0, surprise / self.surprise_full)

    def _contexts(self, level: int) -> list[str]:
        """The contexts of the current reading, lowest order first."""
        if level == self._level:
            self._run_length += 1
        else:
            if self._level is not None:
                self._runs.append((self._level, self._run_length.bit_length()))
            self._level, self._run_length = level, 1
        here = f"{level}:{self._run_length.bit_length()}"
        out = [f"v{level}", f"r{here}"]
        runs = [f"{lv}:{dur}" for lv, dur in self._runs]
        if runs:
            out.append(f"t{runs[-1]}>{here}")
        if len(runs) == 2:
            out.append(f"u{runs[0]}>{runs[1]}>{here}")
        return out

    def _observe(self, level: int, learn_only: bool) -> float:
        """Learn the reading's contexts; return the surprise of the novel ones (decades)."""
        surprise = 0.0
        for order, key in enumerate(self._contexts(level)):
            novel = key not in self._seen
            if novel and not learn_only:
                share = (self._novel[order] + 1.0) / (self._total[order] + 2.0)
                surprise -= math.log10(share)
            self._novel[order] += novel
            self._total[order] += 1
            if novel and len(self._seen) < self.max_contexts:
                self._seen.add(key)
                if self._seen_sorted is not None:  # kept sorted: no re-sort per state write
                    bisect.insort(self._seen_sorted, key)
        return surprise

    def params(self) -> dict[str, Any]:
        return {
            "warmup": self.warmup,
            "bins": self.bins,
            "surprise_full": self.surprise_full,
            "max_contexts": self.max_contexts,
        }

    def _sorted_seen(self) -> list[str]:
        if self._seen_sorted is None:
            self._seen_sorted = sorted(self._seen)
        return list(self._seen_sorted)  # a copy: the caller owns what get_state returns

    def get_state(self) -> dict[str, Any]:
        ready = self.ready
        return {
            "warm": list(self._warm),
            "origin": self._origin if ready else None,
            "width": self._width if ready else None,
            "seen": self._sorted_seen(),
            "novel": list(self._novel),
            "total": list(self._total),
            "runs": [list(r) for r in self._runs],
            "level": self._level,
            "run_length": self._run_length,
            "last_surprise": self.last_surprise if math.isfinite(self.last_surprise) else None,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self._warm = [float(v) for v in state["warm"]]
        self._origin = math.nan if state["origin"] is None else float(state["origin"])
        self._width = math.nan if state["width"] is None else float(state["width"])
        self._seen = {str(k) for k in state["seen"]}
        self._seen_sorted = None
        self._novel = [int(c) for c in state["novel"]]
        self._total = [int(c) for c in state["total"]]
        self._runs = deque(((int(a), int(b)) for a, b in state["runs"]), maxlen=2)
        self._level = None if state["level"] is None else int(state["level"])
        self._run_length = int(state["run_length"])
        last = state.get("last_surprise")
        self.last_surprise = math.inf if last is None else float(last)
