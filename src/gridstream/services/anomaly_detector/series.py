"""The detector's keyed state for one series: its scorer, pending forecasts, quality run.

One :class:`SeriesSlot` per series id lives in the runner's keyed state (so it is restored
after a restart and moves with its partition). It holds:

* the series' streaming scorer (``gridstream.core.anomaly``), unchanged, as bytes on the wire;
* the forecast steps issued earlier for *future* target times, one step per target time,
  bounded: for each target the step whose horizon is closest to (and at least) the preferred
  horizon is kept, so the residual is always "the actual against the ~1 h forecast";
* the time of the last scored reading and how many readings running were flagged stuck;
* the last value, and the spike still open: a reading the cleaner flagged SPIKE, the level
  before it and its step. A later reading within :data:`SPIKE_RETURN_MS` that is closer to that
  level than to the spike closes it as a spike that fell back (evidence); after that span it
  was a level shift and is forgotten.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field

from gridstream.core.anomaly.model import ForecastPoint
from gridstream.core.anomaly.scorer import SeriesScorer
from gridstream.errors import SerdeError

#: at most this many future target times are remembered per series (24 h at 15 min, + slack)
MAX_PENDING = 120
#: a spike is a step that is undone within an hour; one that stays longer is a level shift
SPIKE_RETURN_MS = 3_600_000


@dataclass
class SeriesSlot:
    series_id: str
    scorer: SeriesScorer
    pending: dict[int, ForecastPoint] = field(default_factory=dict)
    last_ts_ms: int = 0
    stuck_run: int = 0
    last_value: float = math.nan
    #: the open spike: when, the level before it and its step (``spike_ts_ms`` 0: none)
    spike_ts_ms: int = 0
    spike_base: float = 0.0
    spike_step: float = 0.0

    @classmethod
    def new(cls, series_id: str) -> SeriesSlot:
        return cls(series_id, SeriesScorer(series_id))

    def offer(self, target_ms: int, point: ForecastPoint, preferred_minutes: int) -> bool:
        """Keep ``point`` for ``target_ms`` if it is the better step; True when kept."""
        if target_ms <= self.last_ts_ms or point.issue_time_ms >= target_ms:
            return False  # the reading is already judged, or not a forecast of the future
        current = self.pending.get(target_ms)
        if current is not None and not _better(point, current, preferred_minutes):
            return False
        self.pending[target_ms] = point
        if len(self.pending) > MAX_PENDING:
            for ts in sorted(self.pending)[MAX_PENDING:]:
                del self.pending[ts]
        return True

    def follow_spike(self, ts_ms: int, value: float, flagged: bool) -> tuple[float, int]:
        """``(step, lasted_ms)`` when this reading closes a spike that fell back, else (0, 0).

        Call once per scored reading, in time order; it also remembers the value.
        """
        closed = (0.0, 0)
        if self.spike_ts_ms:
            if ts_ms - self.spike_ts_ms > SPIKE_RETURN_MS:
                self.spike_ts_ms = 0
            elif abs(value - self.spike_base) < 0.5 * abs(self.spike_step):
                closed = (self.spike_step, ts_ms - self.spike_ts_ms)
                self.spike_ts_ms = 0
        if flagged and not math.isnan(self.last_value):
            self.spike_ts_ms = ts_ms
            self.spike_base = self.last_value
            self.spike_step = value - self.last_value
        self.last_value = value
        return closed

    def take(self, ts_ms: int) -> ForecastPoint | None:
        """The forecast for the reading at ``ts_ms``; forgets it and every older target."""
        point = self.pending.pop(ts_ms, None)
        for ts in [t for t in self.pending if t < ts_ms]:
            del self.pending[ts]
        return point


def _better(new: ForecastPoint, old: ForecastPoint, preferred: int) -> bool:
    """Prefer steps at least ``preferred`` minutes ahead, the shortest such; else the longest."""
    new_ok, old_ok = new.horizon_minutes >= preferred, old.horizon_minutes >= preferred
    if new_ok != old_ok:
        return new_ok
    if new_ok:
        return new.horizon_minutes < old.horizon_minutes
    return new.horizon_minutes > old.horizon_minutes


def slot_to_bytes(slot: SeriesSlot) -> bytes:
    doc = {
        "series": slot.series_id,
        "scorer": base64.b64encode(slot.scorer.to_bytes()).decode(),
        "pending": [
            [ts, p.p10, p.p50, p.p90, p.horizon_minutes, p.issue_time_ms]
            for ts, p in sorted(slot.pending.items())
        ],
        "last_ts": slot.last_ts_ms,
        "stuck": slot.stuck_run,
        "last_value": None if math.isnan(slot.last_value) else slot.last_value,
        "spike": [slot.spike_ts_ms, slot.spike_base, slot.spike_step],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def slot_from_bytes(data: bytes) -> SeriesSlot:
    try:
        doc = json.loads(data)
        series_id = str(doc["series"])
        scorer = SeriesScorer.from_bytes(series_id, base64.b64decode(doc["scorer"]))
        pending = {
            int(ts): ForecastPoint(float(p10), float(p50), float(p90), int(h), int(issue))
            for ts, p10, p50, p90, h, issue in doc["pending"]
        }
        last = doc.get("last_value")  # absent in states written before spikes were followed
        spike_ts, base, step = doc.get("spike", [0, 0.0, 0.0])
        return SeriesSlot(
            series_id,
            scorer,
            pending,
            int(doc["last_ts"]),
            int(doc["stuck"]),
            math.nan if last is None else float(last),
            int(spike_ts),
            float(base),
            float(step),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SerdeError(
            f"anomaly detector state is not valid ({exc}); delete the changelog to start over"
        ) from exc
