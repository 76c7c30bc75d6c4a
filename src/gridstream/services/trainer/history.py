"""The trainer's DuckDB history store (``<state_dir>/history/history.duckdb``), opened lazily.

The Kafka loop writes every accepted clean reading at the end of its batch, before the batch's
offsets are committed: upserts by series and time, so a batch replayed after a crash writes
the same rows again. Decisions read only rows before their checkpoint, so rows written ahead
of the committed offsets change nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from gridstream.core.features import SERIES_FIELDS
from gridstream.store.history import HistoryStore

_FIELDS = list(SERIES_FIELDS.values())


class SharedHistory:
    """The history store behind a lock (the loop writes and reads, HTTP counts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._store: HistoryStore | None = None

    def _db(self) -> HistoryStore:
        if self._store is None:
            self._store = HistoryStore(self.path)
        return self._store

    def upsert(self, frame: pd.DataFrame) -> int:
        with self.lock:
            return self._db().upsert_frame(frame)

    def read(self, region: str, since_ms: int, until_ms: int) -> pd.DataFrame:
        """A region's trained fields in ``[since_ms, until_ms)``."""
        since = pd.Timestamp(since_ms, unit="ms", tz="UTC")
        until = pd.Timestamp(until_ms - 1, unit="ms", tz="UTC")
        with self.lock:
            return self._db().read_frame(regions=[region], fields=_FIELDS, since=since, until=until)

    def count(self) -> int:
        with self.lock:
            return self._db().count()

    def close(self) -> None:
        with self.lock:
            if self._store is not None:
                self._store.close()
                self._store = None
