"""The history store: clean readings in an embedded DuckDB file, upserted by (series, ts).

One table ``readings(series_id, region, field, ts_ms, value)`` with primary key
``(series_id, ts_ms)``; writing a reading again replaces it (late corrections win).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from gridstream.errors import GridstreamError

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    series_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    ts_ms BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (series_id, ts_ms)
)
"""


def _as_enum(column: str, values: list[str]) -> str:
    """``column`` cast to an ENUM of ``values`` (quoted as SQL literals), keeping its name."""
    literals = ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(set(values)))
    return f"CAST({column} AS ENUM({literals})) AS {column}"


class HistoryStoreError(GridstreamError):
    """The history store file cannot be opened or written."""


class HistoryStore:
    """Clean readings by series in a DuckDB file (use as a context manager)."""

    def __init__(self, path: Path) -> None:
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con: Any = duckdb.connect(str(path))
        except duckdb.Error as exc:
            raise HistoryStoreError(
                f"cannot open history store {path}: {exc}; is another process holding it?"
            ) from exc
        self._con.execute(_SCHEMA)
        self.path = path

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def upsert_frame(self, frame: pd.DataFrame) -> int:
        """Insert or replace readings given as ``ts`` (UTC), ``region``, ``field``, ``value``.

        Rows with a null value are skipped (the store holds clean readings only). Returns the
        number of rows written.
        """
        rows = frame[frame["value"].notna()]
        if rows.empty:
            return 0
        batch = pd.DataFrame(
            {
                "series_id": (rows["region"] + "/" + rows["field"]).to_numpy(),
                "region": rows["region"].to_numpy(),
                "field": rows["field"].to_numpy(),
                "ts_ms": pd.DatetimeIndex(rows["ts"]).as_unit("ms").asi8,
                "value": rows["value"].to_numpy(dtype="float64"),
            }
        ).drop_duplicates(["series_id", "ts_ms"], keep="last")
        self._con.register("incoming", batch)
        try:
            self._con.execute(
                "INSERT OR REPLACE INTO readings "
                "SELECT series_id, region, field, ts_ms, value FROM incoming"
            )
        finally:
            self._con.unregister("incoming")
        return len(batch)

    def upsert(self, region: str, field: str, ts_ms: int, value: float) -> None:
        """Insert or replace one reading (the streaming path)."""
        self._con.execute(
            "INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?)",
            [f"{region}/{field}", region, field, ts_ms, value],
        )

    def read_frame(
        self,
        regions: list[str] | None = None,
        fields: list[str] | None = None,
        since: pd.Timestamp | None = None,
        until: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Readings as ``ts, region, field, value`` (the layout of ``sources.recorded``)."""
        clauses: list[str] = ["TRUE"]
        params: list[object] = []
        if regions:
            clauses.append(f"region IN ({', '.join('?' for _ in regions)})")
            params += regions
        if fields:
            clauses.append(f"field IN ({', '.join('?' for _ in fields)})")
            params += fields
        if since is not None:
            clauses.append("ts_ms >= ?")
            params.append(int(since.value // 1_000_000))
        if until is not None:
            clauses.append("ts_ms <= ?")
            params.append(int(until.value // 1_000_000))
        # with the regions and fields known, they come back as categoricals (DuckDB ENUMs):
        # a Python string object per row and column took 100 MB for three years of a region
        region = _as_enum("region", regions) if regions else "region"
        field = _as_enum("field", fields) if fields else "field"
        query = (
            f"SELECT ts_ms, {region}, {field}, value FROM readings WHERE "
            + " AND ".join(clauses)
            + " ORDER BY ts_ms, region, field"
        )
        out: pd.DataFrame = self._con.execute(query, params).df()
        out.insert(0, "ts", pd.to_datetime(out.pop("ts_ms"), unit="ms", utc=True))
        return out

    def latest_ms(self, region: str, fields: list[str]) -> int | None:
        """Time (epoch ms) of the region's latest reading of ``fields``; None if it has none."""
        marks = ", ".join("?" for _ in fields)
        rows = self._con.execute(
            f"SELECT max(ts_ms) FROM readings WHERE region = ? AND field IN ({marks})",
            [region, *fields],
        ).fetchall()  # fetchone would leave the result open, blocking DuckDB 2's register
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def count(self) -> int:
        """Number of readings stored."""
        rows = self._con.execute("SELECT count(*) FROM readings").fetchall()
        return int(rows[0][0]) if rows else 0

    def series(self) -> list[str]:
        """Series ids present in the store."""
        rows = self._con.execute("SELECT DISTINCT series_id FROM readings ORDER BY 1").fetchall()
        return [str(r[0]) for r in rows]
