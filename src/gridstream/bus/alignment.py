"""Event-time alignment of a runner's input partitions: read them in step by data time.

A backlog (after a restart, a rebalance or a broker outage) is fetched partition by partition
in whatever order the broker answers, so one partition can run days of data ahead of the
others. Every join downstream is decided on event time with a grace, so results do not depend
on that order as long as the skew stays within the graces; but how far a partition runs ahead
in a backlog depends on timing alone, and no data-time grace bounds it. Alignment bounds it:
a partition whose newest event time is more than ``drift_ms`` ahead of the slowest *active*
partition is paused until the slowest catches up (the idea of Flink's watermark alignment).

A partition is *active* (it holds the others back) while it has records left to read (its
position is behind the high watermark last fetched) or it delivered a record less than
``idle_s`` ago. A partition that is caught up and quiet stops holding the others back, so a
dead or empty feed never stalls the rest for longer than ``idle_s``; a partition that has not
delivered yet but has records waiting counts as the slowest of all. The pause only changes
when records are read, never what is decided: event time still decides every join.
The runners use ``idle_s`` = 60 s (``RunnerConfig.align_idle_s``): a partition whose upstream
instance was SIGKILLed is quiet until its hand-over to another instance (the group's 10 s
session timeout and a rebalance, 22 s in a loaded scale-out verify), which a fast replay
turns into days of data.

This module is the bookkeeping only (no Kafka); the runner asks it after each batch which
partitions to pause and resume.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Partition = tuple[str, int]  # topic, partition

#: how far ahead of the slowest partition the services read their timed inputs: a day of data,
#: well inside every grace downstream (the shortest, the ml-preprocessor's backlog, is a week)
STEP_DRIFT_MS = 24 * 3_600_000
_EARLIEST = -(2**62)  # where a partition stands that has records waiting but none read


def ts_of(value: Any) -> int:
    """The event time of a GridStream record that carries it as ``ts_ms``."""
    return int(value.ts_ms)


@dataclass
class _Track:
    heard_s: float  # quiet-clock time of the newest record (or of the assignment)
    ts_ms: int | None = None  # newest event time read
    paused: bool = False


@dataclass(frozen=True)
class Plan:
    pause: tuple[Partition, ...]
    resume: tuple[Partition, ...]


class Alignment:
    """Which aligned input partitions to pause, from the event times read so far.

    Quiet time is counted on a clock that stands still while nothing is read and nothing is
    paused (a broker outage, or every partition caught up): a partition is only given up
    for ``idle_s`` of the others being read, or of them waiting on it. The newest event time
    of a partition is remembered across revocations and new clients, so after a rebuild a
    partition that has not delivered again yet still holds the others back (for ``idle_s``).
    """

    def __init__(self, drift_ms: int, idle_s: float) -> None:
        if drift_ms <= 0 or idle_s <= 0:
            raise ValueError(
                f"alignment needs a positive drift and idle time: {drift_ms}, {idle_s}"
            )
        self.drift_ms = drift_ms
        self.idle_s = idle_s
        self._tracks: dict[Partition, _Track] = {}
        self._known: dict[Partition, int] = {}  # newest event time read, kept when revoked
        self._stood_s = 0.0  # wall time the quiet clock stood still
        self._last_plan_s: float | None = None
        self._delivered = False  # a record was observed since the last plan

    def _clock(self, now_s: float) -> float:
        return now_s - self._stood_s

    def assigned(self, partitions: Iterable[Partition], now_s: float) -> None:
        """New partitions start unpaused and hold the others back for ``idle_s``."""
        for tp in partitions:
            self._tracks[tp] = _Track(self._clock(now_s), self._known.get(tp))

    def revoked(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            self._tracks.pop(tp, None)

    def clear(self) -> None:
        """New clients: every partition is assigned again (and unpaused)."""
        self._tracks.clear()

    def observe(self, tp: Partition, ts_ms: int, now_s: float) -> None:
        """A committed batch read a record of ``tp`` with event time ``ts_ms``."""
        track = self._tracks.get(tp)
        if track is None:  # read before its assignment callback: track it from now
            track = self._tracks[tp] = _Track(self._clock(now_s), self._known.get(tp))
        track.heard_s = self._clock(now_s)
        if track.ts_ms is None or ts_ms > track.ts_ms:
            track.ts_ms = ts_ms
            self._known[tp] = ts_ms
        self._delivered = True

    def limits(
        self, firsts: Mapping[Partition, int], waiting: Container[Partition], now_s: float
    ) -> dict[Partition, int]:
        """How far each partition of a batch may be read (newest event time): ``drift_ms``
        past the slowest of the *other* active partitions, each where it stands (its newest
        event time read; for one in the batch not read before, its first record's; for one
        with records waiting but none read, the earliest time of all, as in the plan). A
        batch holds up to thousands of records, and the first one after an assignment may
        hold one partition only: without a limit it ran that partition weeks of data ahead
        before the first plan. Paused partitions count where they stand too: a partition cut
        at its first record waits there for the others. A partition with no other to keep
        step with has no limit, so the slowest always reads on."""
        clock = self._clock(now_s)
        stands: dict[Partition, int] = {}
        for tp, track in self._tracks.items():
            active = track.paused or tp in waiting or clock - track.heard_s < self.idle_s
            if track.ts_ms is not None and active:
                stands[tp] = track.ts_ms
            elif track.ts_ms is None and tp in waiting and tp not in firsts:
                stands[tp] = _EARLIEST
        for tp, ts in firsts.items():
            stands.setdefault(tp, ts)
        out: dict[Partition, int] = {}
        for tp in firsts:
            others = [ts for other, ts in stands.items() if other != tp]
            if others:
                out[tp] = min(others) + self.drift_ms
        return out

    def hold(self, tp: Partition, next_ms: int) -> bool:
        """Pause ``tp``, cut at a record of event time ``next_ms`` past its limit; it resumes
        as a paused partition does (see :meth:`plan`). False if it is not tracked (then it is
        not paused: nothing would resume it)."""
        track = self._tracks.get(tp)
        if track is None:
            return False
        track.paused = True
        if track.ts_ms is None:  # nothing read yet: it stands at the record it was cut at
            track.ts_ms = next_ms
        return True

    def paused(self) -> tuple[Partition, ...]:
        return tuple(tp for tp, t in self._tracks.items() if t.paused)

    def frontier(self, waiting: Container[Partition], now_s: float) -> int | None:
        """The event time the slowest active partition has reached (None: none is active);
        a partition with records waiting but none read yet counts as the earliest time."""
        times: list[int] = []
        clock = self._clock(now_s)
        for tp, track in self._tracks.items():
            if track.paused:
                continue  # ahead by definition, and not reading: it holds nothing back
            if not (tp in waiting or clock - track.heard_s < self.idle_s):
                continue
            if track.ts_ms is None:
                if tp in waiting:  # records to read and none read yet: the slowest of all
                    return _EARLIEST
                continue
            times.append(track.ts_ms)
        return min(times) if times else None

    def plan(self, waiting: Container[Partition], now_s: float) -> Plan:
        """Pause what runs more than ``drift_ms`` ahead of the frontier; resume a paused
        partition once it is no more than half the drift ahead (so that each pause lets the
        slowest read half a drift, not a record or two), or once nothing holds it back."""
        holding = any(t.paused for t in self._tracks.values())
        if self._last_plan_s is not None and not (self._delivered or holding):
            self._stood_s += max(0.0, now_s - self._last_plan_s)  # nothing read, none held
        self._last_plan_s, self._delivered = now_s, False
        frontier = self.frontier(waiting, now_s)
        pause: list[Partition] = []
        resume: list[Partition] = []
        for tp, track in self._tracks.items():
            if track.ts_ms is None:
                continue
            lead = None if frontier is None else track.ts_ms - frontier
            if not track.paused and lead is not None and lead > self.drift_ms:
                track.paused = True
                pause.append(tp)
            elif track.paused and (lead is None or lead <= self.drift_ms // 2):
                track.paused = False
                resume.append(tp)
        return Plan(tuple(pause), tuple(resume))
