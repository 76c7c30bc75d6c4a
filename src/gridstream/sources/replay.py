"""Replaying recorded EirGrid files as ``RawReading`` messages in timestamp order.

Files are merged lazily: a file is read only when the replay clock reaches the first
timestamp its name promises (1 Jan of its year), and dropped when exhausted, so replaying
nine years holds about one year of files in memory, not all of them. Duplicate rows (the
first-of-month repeats) are kept, adjacent, for the cleaner to suppress.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gridstream.schemas import readings_pb2
from gridstream.sources.local_time import local_to_utc, parse_effective_time
from gridstream.sources.recorded import read_raw
from gridstream.sources.records import make_raw_reading

_YEAR = re.compile(r"_(?P<yy>\d{2})_Eirgrid\.csv(\.gz)?$")

Row = tuple[int, str, str, float | None, str]  # ts_ms, region, field, value, effective_time


def file_start_ms(path: Path) -> int:
    """Earliest timestamp a recorded file can hold (from its name; unknown -> -inf-ish)."""
    m = _YEAR.search(path.name)
    if m is None:
        return -(2**62)
    year = 2000 + int(m.group("yy"))
    # 1 Jan is always winter time in Ireland, so local midnight is UTC midnight.
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp() * 1000)


def iter_file_rows(path: Path, drop_null: bool = True) -> Iterator[Row]:
    """One file's rows in UTC time order (stable, so duplicates stay in file order)."""
    raw = read_raw(path)
    key = raw["region"] + "/" + raw["field"]
    ts = local_to_utc(parse_effective_time(raw["effective_time"]), key)
    keep = ts.notna().to_numpy().copy()
    if drop_null:
        keep &= raw["value"].notna().to_numpy()
    ts_ms = ts[keep].dt.as_unit("ms").astype("int64").to_numpy()
    order = np.argsort(ts_ms, kind="stable")
    regions = raw["region"].to_numpy()[keep][order]
    fields = raw["field"].to_numpy()[keep][order]
    values = raw["value"].to_numpy()[keep][order]
    texts = raw["effective_time"].to_numpy()[keep][order]
    for t, region, field, value, text in zip(
        ts_ms[order].tolist(), regions, fields, values.tolist(), texts, strict=True
    ):
        yield int(t), str(region), str(field), (None if value != value else value), str(text)


def iter_recorded_rows(paths: Sequence[Path], drop_null: bool = True) -> Iterator[Row]:
    """Rows of many files merged in (ts, file order) order, files opened lazily."""
    pending = sorted(enumerate(paths), key=lambda item: (file_start_ms(item[1]), item[0]))
    pending.reverse()  # pop() from the end = earliest start first
    heap: list[tuple[int, int, Row, Iterator[Row]]] = []

    def activate() -> None:
        idx, path = pending.pop()
        rows = iter_file_rows(path, drop_null)
        first = next(rows, None)
        if first is not None:
            heapq.heappush(heap, (first[0], idx, first, rows))

    while pending or heap:
        while pending and (not heap or file_start_ms(pending[-1][1]) <= heap[0][0]):
            activate()
        if not heap:
            continue
        _, idx, row, rows = heapq.heappop(heap)
        yield row
        following = next(rows, None)
        if following is not None:
            heapq.heappush(heap, (following[0], idx, following, rows))


def iter_recorded(
    paths: Sequence[Path],
    *,
    drop_null: bool = True,
    source: str = "replay",
    ingested_at_ms: int = 0,
) -> Iterator[readings_pb2.RawReading]:
    """``RawReading`` messages of recorded files, in timestamp order across all files."""
    for ts_ms, region, field, value, text in iter_recorded_rows(paths, drop_null):
        yield make_raw_reading(
            region=region,
            field=field,
            ts_ms=ts_ms,
            value=value,
            effective_time=text,
            source=source,
            ingested_at_ms=ingested_at_ms,
        )
