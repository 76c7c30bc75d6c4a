"""Series ids, deterministic record ids and the construction of ``RawReading`` messages."""

from __future__ import annotations

from gridstream.schemas import readings_pb2
from gridstream.sources.catalogue import spec_for_field


def series_id(region: str, field: str) -> str:
    """The series id (and Kafka key): ``"{region}/{field}"``."""
    return f"{region}/{field}"


def record_id(series: str, ts_ms: int) -> str:
    """Deterministic id of one reading, so duplicates are recognisable downstream."""
    return f"{series}@{ts_ms}"


def split_record_id(rid: str) -> tuple[str, int]:
    """Inverse of :func:`record_id`."""
    series, _, ts = rid.rpartition("@")
    return series, int(ts)


def make_raw_reading(
    *,
    region: str,
    field: str,
    ts_ms: int,
    value: float | None,
    effective_time: str = "",
    area: str = "",
    source: str = "",
    ingested_at_ms: int = 0,
) -> readings_pb2.RawReading:
    """A ``RawReading`` with ids, area and unit filled in from the catalogue."""
    spec = spec_for_field(field)
    sid = series_id(region, field)
    reading = readings_pb2.RawReading(
        record_id=record_id(sid, ts_ms),
        series_id=sid,
        region=region,
        field=field,
        area=area or (spec.area if spec else ""),
        effective_time=effective_time,
        ts_ms=ts_ms,
        has_value=value is not None,
        value=value if value is not None else 0.0,
        source=source,
        ingested_at_ms=ingested_at_ms,
        unit=spec.unit if spec else "",
    )
    return reading
