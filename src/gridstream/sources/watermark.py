"""Per-series watermarks: the newest timestamp sent, so a restart neither gaps nor re-sends."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from gridstream.errors import GridstreamError
from gridstream.schemas import readings_pb2


class WatermarkError(GridstreamError):
    """A watermark file could not be read."""


class Watermarks:
    """Mapping series id -> newest ``ts_ms`` already sent."""

    def __init__(self, marks: dict[str, int] | None = None) -> None:
        self._marks: dict[str, int] = dict(marks or {})

    def get(self, series: str) -> int | None:
        return self._marks.get(series)

    def as_dict(self) -> dict[str, int]:
        return dict(self._marks)

    def is_new(self, reading: readings_pb2.RawReading) -> bool:
        """True when the reading is newer than its series' watermark."""
        mark = self._marks.get(reading.series_id)
        return mark is None or reading.ts_ms > mark

    def advance(self, reading: readings_pb2.RawReading) -> None:
        """Move the series' watermark forward to this reading (never backwards)."""
        mark = self._marks.get(reading.series_id)
        if mark is None or reading.ts_ms > mark:
            self._marks[reading.series_id] = reading.ts_ms

    def select_new(
        self, readings: Iterable[readings_pb2.RawReading]
    ) -> list[readings_pb2.RawReading]:
        """Readings newer than their watermark (without advancing it), in input order."""
        return [r for r in readings if self.is_new(r)]

    def to_bytes(self) -> bytes:
        return json.dumps(self._marks, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Watermarks:
        try:
            loaded = json.loads(data)
        except ValueError as exc:
            raise WatermarkError(f"watermark data is not JSON ({exc})") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in loaded.items()
        ):
            raise WatermarkError("watermark data must map series id to epoch milliseconds")
        return cls(loaded)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), so a crash never leaves half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(self.to_bytes())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Watermarks:
        """The saved watermarks, or empty ones when the file does not exist yet."""
        if not path.exists():
            return cls()
        try:
            return cls.from_bytes(path.read_bytes())
        except WatermarkError as exc:
            raise WatermarkError(f"{path}: {exc}; delete it to start from scratch") from None
