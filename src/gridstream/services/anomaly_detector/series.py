"""The detector's keyed state for one series: its scorer and quality run; the state codec.

One :class:`SeriesSlot` per series id lives in the runner's keyed state (so it is restored
after a restart and moves with its partition). It holds:

* the series' streaming scorer (``gridstream.core.anomaly``), unchanged, as bytes on the wire;
* the time of the last scored reading and how many readings running were flagged stuck;
* the last value, and the spike still open: a reading the cleaner flagged SPIKE, the level
  before it and its step. A later reading within :data:`SPIKE_RETURN_MS` that is closer to that
  level than to the spike closes it as a spike that fell back (evidence); after that span it
  was a level shift and is forgotten.

The readings waiting for their forecast and the forecasts waiting for their reading are in a
second, small key per series (:mod:`~gridstream.services.anomaly_detector.join`), so a
forecast or a waiting reading never re-encodes the scorer. :data:`STATE_CODEC` reads both.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any

from gridstream.bus.state import StateCodec
from gridstream.core.anomaly.scorer import SeriesScorer
from gridstream.errors import SerdeError
from gridstream.services.anomaly_detector.join import SeriesJoin, join_from_doc, join_to_bytes

#: a spike is a step that is undone within an hour; one that stays longer is a level shift
SPIKE_RETURN_MS = 3_600_000


@dataclass
class SeriesSlot:
    series_id: str
    scorer: SeriesScorer
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


def slot_to_bytes(slot: SeriesSlot) -> bytes:
    doc = {
        "series": slot.series_id,
        "scorer": base64.b64encode(slot.scorer.to_bytes()).decode(),
        "last_ts": slot.last_ts_ms,
        "stuck": slot.stuck_run,
        "last_value": None if math.isnan(slot.last_value) else slot.last_value,
        "spike": [slot.spike_ts_ms, slot.spike_base, slot.spike_step],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def slot_from_bytes(data: bytes) -> SeriesSlot:
    state = state_from_bytes(data)
    if not isinstance(state, SeriesSlot):
        raise SerdeError("anomaly detector state: a join state where a series slot was expected")
    return state


def _slot_from_doc(doc: dict[str, Any]) -> SeriesSlot:
    try:
        series_id = str(doc["series"])
        scorer = SeriesScorer.from_bytes(series_id, base64.b64decode(doc["scorer"]))
        # a "pending" member (forecast steps of states written before the event-time join)
        # is left out: the join starts empty, so readings of the next hour say "no forecast"
        last = doc.get("last_value")  # absent in states written before spikes were followed
        spike_ts, base, step = doc.get("spike", [0, 0.0, 0.0])
        return SeriesSlot(
            series_id,
            scorer,
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


def state_to_bytes(state: SeriesSlot | SeriesJoin) -> bytes:
    if isinstance(state, SeriesJoin):
        return join_to_bytes(state)
    return slot_to_bytes(state)


def state_from_bytes(data: bytes) -> SeriesSlot | SeriesJoin:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise SerdeError(
            f"anomaly detector state is not JSON ({exc}); delete the changelog to start over"
        ) from exc
    if not isinstance(doc, dict):
        raise SerdeError("anomaly detector state is not an object; delete the changelog")
    return join_from_doc(doc) if "join" in doc else _slot_from_doc(doc)


STATE_CODEC: StateCodec[SeriesSlot | SeriesJoin] = StateCodec(state_to_bytes, state_from_bytes)
