"""Reading recorded EirGrid files (the layout of ``shared/data/eirgrid``).

Files are headerless CSV (optionally gzip) with ``EffectiveTime,FieldName,Region,Value``.
File names look like ``ALL_demandactual_22_Eirgrid.csv.gz``; the area is the second part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from gridstream.sources.local_time import local_to_utc, parse_effective_time

COLUMNS = ["effective_time", "field", "region", "value"]
_NAME = re.compile(r"^(?P<region>[A-Z]+)_(?P<area>[A-Za-z0-9]+)_(?P<yy>\d{2})_Eirgrid\.csv(\.gz)?$")


def area_of(path: Path) -> str | None:
    """The EirGrid area (``demandactual``...) a recorded file holds, from its name."""
    m = _NAME.match(path.name)
    return m.group("area") if m else None


def list_files(
    root: Path,
    regions: Sequence[str] | None = None,
    areas: Sequence[str] | None = None,
    years: Iterable[int] | None = None,
) -> list[Path]:
    """Recorded files under ``root`` (a file or a directory tree), filtered and sorted."""
    if root.is_file():
        return [root]
    wanted_years = {y % 100 for y in years} if years is not None else None
    out: list[Path] = []
    for path in sorted(root.rglob("*.csv*")):
        m = _NAME.match(path.name)
        if m is None:
            continue
        if regions is not None and m.group("region") not in regions:
            continue
        if areas is not None and m.group("area") not in areas:
            continue
        if wanted_years is not None and int(m.group("yy")) not in wanted_years:
            continue
        out.append(path)
    return out


def read_raw(path: Path) -> pd.DataFrame:
    """One recorded file as rows of strings/floats, in file order (nulls kept as NaN)."""
    frame = pd.read_csv(
        path,
        header=None,
        names=COLUMNS,
        dtype={"effective_time": str, "field": str, "region": str},
        na_values=[""],
        keep_default_na=False,
    )
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def read_frame(paths: Sequence[Path], drop_null: bool = True, dedupe: bool = True) -> pd.DataFrame:
    """Readings from many files as ``ts`` (UTC), ``region``, ``field``, ``value``.

    Timestamps are converted from Irish local time per series; rows whose local time does
    not exist (the spring DST gap) are dropped. With ``dedupe`` one row per (region, field,
    ts) is kept (the last one read), which removes the duplicated first-of-month rows.
    """
    frames = []
    for path in paths:
        raw = read_raw(path)
        key = raw["region"] + "/" + raw["field"]
        raw["ts"] = local_to_utc(parse_effective_time(raw["effective_time"]), key)
        frames.append(raw)
    if not frames:
        return pd.DataFrame(
            {
                "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                "region": [],
                "field": [],
                "value": [],
            }
        )
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[frame["ts"].notna()]
    if drop_null:
        frame = frame[frame["value"].notna()]
    if dedupe:
        frame = frame.drop_duplicates(["region", "field", "ts"], keep="last")
    frame = frame.sort_values(["ts", "region", "field"], kind="stable")
    return frame[["ts", "region", "field", "value"]].reset_index(drop=True)
