"""Pacing a replay: ``--speed X`` plays X seconds of data time per wall second, ``--max``
(speed ``None``) does not wait at all."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from gridstream.schemas import readings_pb2

T = TypeVar("T", bound=readings_pb2.RawReading)


class Pacer:
    """Computes how long to wait before emitting a record with a given data timestamp."""

    def __init__(self, speed: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.speed = speed
        self._clock = clock
        self._anchor: tuple[int, float] | None = None

    def delay_s(self, ts_ms: int) -> float:
        """Seconds to wait before emitting data time ``ts_ms`` (0 when due or at --max)."""
        if self.speed is None:
            return 0.0
        now = self._clock()
        if self._anchor is None:
            self._anchor = (ts_ms, now)
            return 0.0
        first_ts, started = self._anchor
        due = started + (ts_ms - first_ts) / 1000.0 / self.speed
        return max(0.0, due - now)


def paced(
    readings: Iterable[T],
    speed: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[T]:
    """Yield readings, sleeping so data time advances ``speed`` times faster than wall time."""
    pacer = Pacer(speed, clock)
    for reading in readings:
        wait = pacer.delay_s(reading.ts_ms)
        if wait > 0:
            sleep(wait)
        yield reading
