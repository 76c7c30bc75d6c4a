"""A short slice of the recorded EirGrid files, written to a scratch folder for a replay.

Rows are kept verbatim (headerless CSV, Irish local time, the first-of-month duplicates and
empty values included) when their local date falls in ``[start, start + days)``; each output
file keeps its source file's name so the replay reads it exactly like the real folder.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from gridstream.errors import ConfigError
from gridstream.sources.recorded import list_files

DEFAULT_START = date(2021, 9, 1)
DEFAULT_DAYS = 7
DEFAULT_REGIONS = ("ALL",)


@dataclass(frozen=True)
class DataSlice:
    path: Path
    files: int
    rows: int
    start: date
    days: int

    @property
    def span_s(self) -> float:
        """Data time the slice covers, in seconds."""
        return self.days * 86_400.0


def _row_date(line: str) -> date | None:
    try:
        return datetime.strptime(line[:11], "%d-%b-%Y").date()
    except ValueError:
        return None


def write_slice(
    source: Path,
    dest: Path,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    regions: tuple[str, ...] = DEFAULT_REGIONS,
) -> DataSlice:
    """Copy the rows of ``[start, start + days)`` of ``source``'s files into ``dest``."""
    if days < 1:
        raise ConfigError("--days must be at least 1")
    end = start + timedelta(days=days)
    years = range(start.year, end.year + 1)
    paths = list_files(source, regions or None, None, years)
    if not paths:
        raise ConfigError(
            f"no recorded EirGrid files for {'/'.join(regions)} {start.year} under {source}: "
            "give --data the folder of *_Eirgrid.csv.gz files (../shared/data/eirgrid)"
        )
    files = rows = 0
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            kept = [line for line in fh if (d := _row_date(line)) is not None and start <= d < end]
        if not kept:
            continue
        region_dir = dest / path.parent.name
        region_dir.mkdir(parents=True, exist_ok=True)
        with gzip.open(region_dir / path.name, "wt") as out:
            out.writelines(kept)
        files += 1
        rows += len(kept)
    if rows == 0:
        raise ConfigError(f"no rows between {start} and {end} under {source}: pick another --start")
    return DataSlice(dest, files, rows, start, days)
