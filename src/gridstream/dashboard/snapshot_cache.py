"""Serialised snapshots shared between requests, so the page answers at once under load.

A snapshot of a busy pipeline is a megabyte of JSON. Building and encoding it per request
competes with the feed thread for the interpreter, and during a replay at full speed the
state changes between any two requests, so a cache keyed by sequence number alone would
never hit. Each (region, range) is therefore rebuilt at most every ``max_age_s`` (half a
second: the page's own stream tick) and encoded once with orjson. A cached body carries the
sequence number it was built at, so the page's delta stream resumes from exactly there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from gridstream.dashboard.state import DashboardState

Key = tuple[str | None, float | None]


@dataclass(frozen=True)
class _Entry:
    seq: int
    built_at: float
    body: bytes


class SnapshotCache:
    def __init__(
        self,
        state: DashboardState,
        max_age_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Key, _Entry] = {}
        self._building: dict[Key, threading.Lock] = {}

    def body(self, region: str | None, hours: float | None) -> bytes:
        """The encoded snapshot for ``region`` and the last ``hours`` of data time."""
        key = (region, hours)
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build per key at a time; the others take its result
            fresh = self._fresh(key)
            if fresh is not None:
                return fresh
            seq = self._state.seq
            body = orjson.dumps(self._build(region, hours))
            with self._lock:
                self._entries[key] = _Entry(seq, self._clock(), body)
            return body

    def _fresh(self, key: Key) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.seq == self._state.seq or self._clock() - entry.built_at < self._max_age_s:
            return entry.body
        return None

    def _build(self, region: str | None, hours: float | None) -> dict[str, Any]:
        since = None
        latest = self._state.latest_ms()
        if hours is not None and latest is not None:
            since = latest - int(hours * 3_600_000)
        return self._state.snapshot(region, since)
