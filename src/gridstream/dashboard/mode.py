"""What the dashboard is showing: live data, a replay (of which day, at what pace) or a simulation.

The mode comes from the readings themselves (each clean reading carries its ``source``:
``live``, ``backfill``, ``replay`` or ``simulate``), and the pace is measured, not configured:
how much data time the stream covered per second of wall time over the last minute. So the
header says what the pipeline is really doing ("replay of 3 Dec 2022, ×240"), whichever way it
was started.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

DUBLIN = ZoneInfo("Europe/Dublin")
#: the pace is measured over this much wall time ...
PACE_SPAN_S = 60.0
#: ... once at least this much has passed
PACE_MIN_S = 5.0
_NAMES = {"live": "live", "replay": "replay", "backfill": "backfill", "simulate": "simulation"}


def _round_pace(pace: float) -> float:
    """Two significant figures: ×240, ×1.5, ×12,000 (a live stream reads about ×1)."""
    if pace <= 0:
        return 0.0
    digits = 1 - int(f"{pace:e}".split("e")[1])
    return round(pace, digits)


class StreamMode:
    """Follows the newest reading's source and data time; ``describe`` says what is shown."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._source = ""
        self._latest_ms = 0
        self._samples: deque[tuple[float, int]] = deque()

    def observe(self, source: str, data_ms: int) -> None:
        if source:
            self._source = source
        if data_ms < self._latest_ms - 86_400_000:
            self._samples.clear()  # the stream went back in time (a replay restarted)
            self._latest_ms = data_ms
        self._latest_ms = max(self._latest_ms, data_ms)
        now = self._clock()
        if self._samples and now - self._samples[-1][0] < 1.0:
            self._samples[-1] = (self._samples[-1][0], self._latest_ms)
        else:
            self._samples.append((now, self._latest_ms))
        while len(self._samples) > 2 and now - self._samples[1][0] >= PACE_SPAN_S:
            self._samples.popleft()

    def pace(self) -> float | None:
        """Data seconds per wall second over the last minute (None until measurable)."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < PACE_MIN_S:
            return None
        return (d1 - d0) / 1000.0 / (t1 - t0)

    def describe(self) -> dict[str, Any]:
        name = _NAMES.get(self._source, self._source or "waiting for data")
        pace = self.pace()
        label = name
        if self._source in ("replay", "backfill", "simulate") and self._latest_ms:
            day = datetime.fromtimestamp(self._latest_ms / 1000, UTC).astimezone(DUBLIN)
            label = f"{name} of {day.day} {day:%b %Y}" if name != "simulation" else name
            if pace is not None and pace > 0:
                label += f", ×{_round_pace(pace):,g}"
        return {"source": self._source or None, "label": label, "pace": pace}
