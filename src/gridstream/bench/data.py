"""The benchmark's data: recorded EirGrid files for a span, its expected counts, live rows.

The throughput phase replays ``[start, start + days)``; the latency phase continues with the
rows right after that span, so every service sees one continuous series.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridstream.errors import ConfigError
from gridstream.sources.recorded import list_files
from gridstream.sources.replay import Row, iter_recorded_rows

#: default location of the recorded files: ../shared/data beside the repository
DEFAULT_DATA = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "data"
    / "eirgrid"
    / "smartgriddashboard"
)


@dataclass(frozen=True)
class Span:
    files: tuple[Path, ...]
    start: datetime
    end: datetime
    regions: tuple[str, ...]

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


@dataclass(frozen=True)
class Expected:
    """What the recorded files hold in the span (non-null rows)."""

    readings: int
    exact_duplicates: int  # same series, time and value again: the cleaner emits nothing
    series: int


def select_span(data: Path, regions: tuple[str, ...], year: int, days: float) -> Span:
    """The files of ``year`` (and the next, for the latency rows) for ``regions``."""
    files = list_files(data, regions=list(regions), years=[year, year + 1])
    if not files:
        raise ConfigError(
            f"no recorded EirGrid files for {','.join(regions)} {year} under {data}: "
            "pass --data PATH to the smartgriddashboard folder"
        )
    start = datetime(year, 1, 1, tzinfo=UTC)
    return Span(tuple(files), start, start + timedelta(days=days), regions)


def expected_counts(span: Span) -> Expected:
    seen: set[tuple[str, str, int, float]] = set()
    readings = duplicates = 0
    series: set[tuple[str, str]] = set()
    for ts, region, field, value, _ in iter_recorded_rows(span.files):
        if ts < span.start_ms:
            continue
        if ts >= span.end_ms:
            break
        readings += 1
        key = (region, field, ts, float(value if value is not None else "nan"))
        if key in seen:
            duplicates += 1
        seen.add(key)
        series.add((region, field))
    return Expected(readings, duplicates, len(series))


def live_rows(span: Span, count: int) -> list[Row]:
    """The first ``count`` non-null rows at or after the end of the span."""
    rows = (r for r in iter_recorded_rows(span.files) if r[0] >= span.end_ms)
    out = list(itertools.islice(rows, count))
    if len(out) < count:
        raise ConfigError(
            f"only {len(out)} recorded rows after {span.end:%Y-%m-%d}: use fewer days"
        )
    return out
