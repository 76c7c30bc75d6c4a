"""The trainer's keyed state (changelog, exactly once), in the partition of each series'
readings:

* ``wm|<series>`` — :class:`Watermark`: the first and the latest reading time of an input
  series (demand, wind, CO2 of a region), the data-time clock of the trainer's join;
* ``job|<series>`` — :class:`Ledger`: per trained series, the last checkpoint decided, the
  model in force and what it was trained on, and a manual request waiting for the next
  checkpoint. A restart resumes after the last decision it committed, so it neither trains
  nor publishes a checkpoint again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from gridstream.bus.state import StateCodec
from gridstream.errors import SerdeError

MARK_PREFIX = "wm|"
JOB_PREFIX = "job|"


@dataclass
class Watermark:
    first_ms: int
    latest_ms: int


@dataclass
class Ledger:
    decided_ms: int  # the last checkpoint decided (one period before the first: none yet)
    version: str = ""  # the version in force ("" = none yet)
    trained_ms: int = 0  # the checkpoint of the last training (retrain schedule)
    window_from_ms: int = 0  # the data the version in force was trained on
    validation: float | None = None  # its validation error (drift threshold)
    data_hash: str = ""
    manual: bool = False  # POST /train: the next checkpoint retrains


State = Watermark | Ledger


def mark_key(series_id: str) -> str:
    return MARK_PREFIX + series_id


def job_key(series_id: str) -> str:
    return JOB_PREFIX + series_id


def to_bytes(value: State) -> bytes:
    doc: dict[str, Any] = {"k": "wm" if isinstance(value, Watermark) else "job", **asdict(value)}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def from_bytes(data: bytes) -> State:
    try:
        doc = json.loads(data)
        kind = doc.pop("k")
        if kind == "wm":
            return Watermark(int(doc["first_ms"]), int(doc["latest_ms"]))
        return Ledger(**doc)
    except (ValueError, KeyError, TypeError) as exc:
        raise SerdeError(
            f"trainer state is not valid ({exc}); delete its changelog to start over"
        ) from exc


STATE_CODEC: StateCodec[State] = StateCodec(to_bytes, from_bytes)
