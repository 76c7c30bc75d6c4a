"""The detector's keyed state for one series: its scorer, pending forecasts, quality run.

One :class:`SeriesSlot` per series id lives in the runner's keyed state (so it is restored
after a restart and moves with its partition). It holds:

* the series' streaming scorer (``gridstream.core.anomaly``), unchanged, as bytes on the wire;
* the forecast steps issued earlier for *future* target times, one step per target time,
  bounded: for each target the step whose horizon is closest to (and at least) the preferred
  horizon is kept, so the residual is always "the actual against the ~1 h forecast";
* the time of the last scored reading and how many readings running were flagged stuck.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from gridstream.core.anomaly.model import ForecastPoint
from gridstream.core.anomaly.scorer import SeriesScorer
from gridstream.errors import SerdeError

#: at most this many future target times are remembered per series (24 h at 15 min, + slack)
MAX_PENDING = 120


@dataclass
class SeriesSlot:
    series_id: str
    scorer: SeriesScorer
    pending: dict[int, ForecastPoint] = field(default_factory=dict)
    last_ts_ms: int = 0
    stuck_run: int = 0

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
        return SeriesSlot(series_id, scorer, pending, int(doc["last_ts"]), int(doc["stuck"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SerdeError(
            f"anomaly detector state is not valid ({exc}); delete the changelog to start over"
        ) from exc
