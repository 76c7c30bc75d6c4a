"""The forecaster's event-time join of feature vectors with the trainer's decisions.

Per trained series the forecaster keeps a :class:`Timeline` in keyed state: the first origin
it saw, the trainer's decisions so far (checkpoint -> version, from ``model_updates``) and the
version in force before any decision. A vector at origin ``t`` is forecast with the version
decided at ``schedule.serving(t)`` (see :mod:`gridstream.core.forecasting.model_schedule`):

* when that decision has arrived (or a later one: the trainer decides checkpoints in order);
* at once when that checkpoint is not after the series' first origin (the trainer cannot have
  decided it from this stream) — the version in force at the start serves;
* otherwise the vector waits in keyed state (``wait|<series>|<ts>``, so it survives a crash)
  with every later vector of the series, until the decision arrives, or until the waiting
  vectors span more than ``grace_ms`` of data time, or, for a live feed, until the trainer
  has been quiet for ``idle_advance_s`` wall seconds. Those last two are logged as such.

Series the trainer does not model (SNSP) never wait.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridstream.bus.state import StateCodec
from gridstream.errors import SerdeError

_TS = struct.Struct("<q")  # a series' last issue time
WAIT_PREFIX = "wait|"
TIMELINE_PREFIX = "tl|"


@dataclass
class Timeline:
    """The trainer's decisions for one series, as the forecaster has received them."""

    first_origin_ms: int
    initial_version: str  # the version in force before any decision ("" = seasonal-naive)
    decisions: list[tuple[int, str]] = field(default_factory=list)  # (checkpoint, version)

    @property
    def decided_until_ms(self) -> int | None:
        return self.decisions[-1][0] if self.decisions else None

    def add(self, checkpoint_ms: int, version: str) -> bool:
        """Record a decision; False for one at or before the last (a replayed record)."""
        last = self.decided_until_ms
        if last is not None and checkpoint_ms <= last:
            return False
        self.decisions.append((checkpoint_ms, version or self.version_at(checkpoint_ms)))
        # only the decisions a waiting or future vector can still need are kept
        if len(self.decisions) > 8:
            dropped = self.decisions[: len(self.decisions) - 8]
            del self.decisions[: len(dropped)]
            self.initial_version = dropped[-1][1]  # in force before the oldest one kept
        return True

    def ready(self, serving_ms: int) -> bool:
        if serving_ms <= self.first_origin_ms:
            return True
        last = self.decided_until_ms
        return last is not None and last >= serving_ms

    def version_at(self, serving_ms: int) -> str:
        """The version decided at the newest checkpoint not after ``serving_ms``."""
        chosen = self.initial_version
        for checkpoint, version in self.decisions:
            if checkpoint > serving_ms:
                break
            chosen = version
        return chosen


@dataclass(frozen=True)
class Waiting:
    """A feature vector waiting for the trainer's decision."""

    values: np.ndarray
    correlation_id: str


State = int | Timeline | Waiting


def wait_key(series_id: str, ts_ms: int) -> str:
    return f"{WAIT_PREFIX}{series_id}|{ts_ms:015d}"


def parse_wait_key(key: str) -> tuple[str, int]:
    series_id, _, ts = key[len(WAIT_PREFIX) :].rpartition("|")
    return series_id, int(ts)


def to_bytes(value: State) -> bytes:
    if isinstance(value, int):
        return _TS.pack(value)
    if isinstance(value, Timeline):
        doc: dict[str, Any] = {
            "k": "timeline",
            "first": value.first_origin_ms,
            "initial": value.initial_version,
            "decisions": value.decisions,
        }
    else:
        doc = {
            "k": "waiting",
            "values": base64.b64encode(value.values.astype("<f8").tobytes()).decode(),
            "cid": value.correlation_id,
        }
    return json.dumps(doc, separators=(",", ":")).encode()


def from_bytes(data: bytes) -> State:
    if len(data) == 8:  # the last issue time of a series (JSON documents are longer)
        return int(_TS.unpack(data)[0])
    try:
        doc = json.loads(data)
        if doc["k"] == "timeline":
            return Timeline(
                int(doc["first"]),
                str(doc["initial"]),
                [(int(c), str(v)) for c, v in doc["decisions"]],
            )
        values = np.frombuffer(base64.b64decode(doc["values"]), dtype="<f8").astype(np.float64)
        return Waiting(values, str(doc["cid"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SerdeError(
            f"forecaster state is not valid ({exc}); delete its changelog to start over"
        ) from exc


STATE_CODEC: StateCodec[State] = StateCodec(to_bytes, from_bytes)
