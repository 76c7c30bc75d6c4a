"""The detector's event-time join of a series' readings with its forecasts (keyed state).

A reading at ``t`` is judged against ONE forecast step: the step for target ``t`` of the
forecast whose origin (``issue_time_ms``) is exactly ``t - H``, ``H`` the detector's horizon
(60 min). The forecaster issues one forecast per quarter-hour reading that carries features,
with ``issue_time_ms`` = that reading's time, so this is "the forecast made an hour earlier,
from the reading then", whichever order the two topics are read in.

One :class:`SeriesJoin` per series (state key :func:`join_key`) holds:

* ``watermark``: the newest forecast origin seen for the series. Forecasts of a series are
  strictly ordered in one partition, so once it is ``>= t - H`` without the forecast of origin
  ``t - H``, that forecast will never come;
* ``points``: the ``H`` step of forecasts whose reading has not arrived yet, by target time
  (only those: a forecast for a reading already judged, or skipped, is not kept);
* ``waiting``: the readings not judged yet, in arrival order (= time order, late readings
  queued behind so a series' verdicts keep their order). Stored as a compact list in this
  small key, apart from the slot and its scorer blob: a waiting reading costs one short entry,
  not a re-encoding of the series' detector;
* ``dropped_through``: the newest target whose forecast was dropped past the grace.

Bounded grace: when the waiting readings span more than the grace in data time (or more
than :data:`MAX_WAITING` are queued), the oldest is judged without its forecast; forecasts
more than the grace ahead of the readings are dropped the same way. Both say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gridstream.core.anomaly.model import ForecastPoint
from gridstream.errors import SerdeError

#: the suffix of a series' join state key (the slot's key is the series id itself)
JOIN_SUFFIX = "#join"
#: queued readings at most per series, whatever their times (duplicates do not move time)
MAX_WAITING = 2_000

#: why a reading was judged without its forecast (``Waiting.decided`` / evidence wording)
NO_FORECAST_EXPECTED = ""
MISSING_WATERMARK = "watermark"
MISSING_GRACE = "grace"
MISSING_WALL_CLOCK = "wall clock"


def join_key(series_id: str) -> str:
    return series_id + JOIN_SUFFIX


@dataclass
class Waiting:
    """One reading not judged yet, with what its verdict needs from the feature vector."""

    ts_ms: int
    value: float
    #: ``STUCK``/``SPIKE`` seen in its flags, and the carried details (None: not carried)
    stuck: bool = False
    spike: bool = False
    stuck_intervals: int | None = None
    gap_before_ms: int | None = None
    #: the field whose cleaning rule applies, when it is not the series' own field
    rule_field: str | None = None
    #: > 0: a late reading, older than this accepted one (reported, not scored)
    late_of: int = 0
    correlation_id: str = ""

    def to_list(self) -> list[object]:
        return [
            self.ts_ms,
            self.value,
            int(self.stuck) | int(self.spike) << 1,
            self.stuck_intervals,
            self.gap_before_ms,
            self.rule_field,
            self.late_of,
            self.correlation_id,
        ]

    @classmethod
    def from_list(cls, row: list[Any]) -> Waiting:
        ts, value, bits, stuck_n, gap, rule_field, late_of, cid = row
        return cls(
            int(ts),
            float(value),
            bool(int(bits) & 1),
            bool(int(bits) & 2),
            None if stuck_n is None else int(stuck_n),
            None if gap is None else int(gap),
            None if rule_field is None else str(rule_field),
            int(late_of),
            str(cid),
        )


@dataclass
class SeriesJoin:
    series_id: str
    watermark: int | None = None
    points: dict[int, ForecastPoint] = field(default_factory=dict)
    waiting: list[Waiting] = field(default_factory=list)
    #: the newest reading time queued (not late); 0: none queued
    newest_ms: int = 0
    dropped_through: int = 0

    def empty(self) -> bool:
        return not self.points and not self.waiting and self.dropped_through == 0


def join_to_bytes(join: SeriesJoin) -> bytes:
    doc = {
        "join": join.series_id,
        "wm": join.watermark,
        "points": [
            [ts, p.p10, p.p50, p.p90, p.horizon_minutes, p.issue_time_ms]
            for ts, p in sorted(join.points.items())
        ],
        "waiting": [w.to_list() for w in join.waiting],
        "newest": join.newest_ms,
        "dropped": join.dropped_through,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def join_from_doc(doc: dict[str, Any]) -> SeriesJoin:
    """The join state of a decoded changelog document (one with a ``join`` member)."""
    try:
        wm = doc["wm"]
        points = {
            int(ts): ForecastPoint(float(p10), float(p50), float(p90), int(h), int(issue))
            for ts, p10, p50, p90, h, issue in doc["points"]
        }
        return SeriesJoin(
            str(doc["join"]),
            None if wm is None else int(wm),
            points,
            [Waiting.from_list(row) for row in doc["waiting"]],
            int(doc["newest"]),
            int(doc["dropped"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SerdeError(
            f"anomaly detector join state is not valid ({exc}); delete the changelog to start over"
        ) from exc
