"""A fixed-length window of recent values kept sorted, for medians and quantiles."""

from __future__ import annotations

import bisect
from collections import deque


class SortedWindow:
    """The last ``size`` values, in arrival order and sorted, updated in O(size)."""

    def __init__(self, size: int, values: list[float] | None = None) -> None:
        self.size = size
        self._order: deque[float] = deque(values[-size:] if values else [], maxlen=size)
        self._sorted: list[float] = sorted(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def push(self, value: float) -> None:
        if len(self._order) == self.size:
            old = self._order[0]
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._order.append(value)
        bisect.insort(self._sorted, value)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (linear interpolation); the window must not be empty."""
        pos = q * (len(self._sorted) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(self._sorted) - 1)
        frac = pos - lo
        return self._sorted[lo] * (1.0 - frac) + self._sorted[hi] * frac

    def median(self) -> float:
        return self.quantile(0.5)

    def values(self) -> list[float]:
        return list(self._order)
