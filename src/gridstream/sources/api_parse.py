"""Parsing EirGrid Smart Grid Dashboard JSON answers into ``RawReading`` messages.

Both endpoints answer ``{"Rows": [{"EffectiveTime", "FieldName", "Region", "Value"}, ...]}``
(the legacy one adds ``Status``, ``ErrorMessage`` and ``LastUpdated``). Rows with a null
``Value`` are the future (or a hole) and are dropped; the caller learns how many.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from gridstream.errors import GridstreamError
from gridstream.schemas import readings_pb2
from gridstream.sources.local_time import parse_effective_time_scalar, wall_to_utc_ms
from gridstream.sources.records import make_raw_reading, series_id


class ApiResponseError(GridstreamError):
    """The API answered something that is not a usable ``{"Rows": [...]}`` document."""


@dataclass
class ParsedAnswer:
    """Readings of one answer plus what was left out."""

    readings: list[readings_pb2.RawReading] = field(default_factory=list)
    null_rows: int = 0
    nonexistent_rows: int = 0
    total_rows: int = 0


def decode_json(body: bytes | str) -> Any:
    """JSON text to Python, raising :class:`ApiResponseError` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiResponseError(
            f"EirGrid answered malformed JSON ({exc}); the request will be retried"
        ) from None


def _rows_of(document: Any) -> list[Any]:
    if not isinstance(document, dict):
        raise ApiResponseError("EirGrid answer is not a JSON object; expected {'Rows': [...]}")
    status = document.get("Status")
    if status not in (None, "Success"):
        raise ApiResponseError(
            f"EirGrid answered Status={status!r}: {document.get('ErrorMessage') or 'no message'}"
        )
    rows = document.get("Rows")
    if not isinstance(rows, list):
        raise ApiResponseError("EirGrid answer has no 'Rows' list; the endpoint may have changed")
    return rows


def _value_of(raw: Any) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ApiResponseError(f"row Value {raw!r} is not a number")
    if isinstance(raw, str):
        if raw.strip() == "":
            return None
        try:
            raw = float(raw)
        except ValueError:
            raise ApiResponseError(f"row Value {raw!r} is not a number") from None
    value = float(raw)
    return value if math.isfinite(value) else None


def parse_document(
    document: Any, *, area: str = "", source: str = "live", ingested_at_ms: int = 0
) -> ParsedAnswer:
    """Decoded JSON to readings, in answer order, nulls and non-existent local times dropped.

    The first occurrence of a wall time within a series is summer time, a repeat (only on
    the autumn DST day) winter time.
    """
    answer = ParsedAnswer()
    seen: set[tuple[str, str]] = set()
    for row in _rows_of(document):
        answer.total_rows += 1
        if not isinstance(row, dict):
            raise ApiResponseError(f"row {row!r} is not an object")
        try:
            text = str(row["EffectiveTime"])
            field_name = str(row["FieldName"])
            region = str(row["Region"])
        except KeyError as exc:
            raise ApiResponseError(f"row lacks {exc.args[0]!r}: {row!r}") from None
        try:
            naive = parse_effective_time_scalar(text)
        except ValueError:
            raise ApiResponseError(
                f"row EffectiveTime {text!r} is not dd-Mon-yyyy HH:MM:SS"
            ) from None
        value = _value_of(row.get("Value"))
        key = (series_id(region, field_name), text)
        repeated = key in seen
        seen.add(key)
        if value is None:
            answer.null_rows += 1
            continue
        ts_ms = wall_to_utc_ms(naive, second_occurrence=repeated)
        if ts_ms is None:
            answer.nonexistent_rows += 1
            continue
        answer.readings.append(
            make_raw_reading(
                region=region,
                field=field_name,
                ts_ms=ts_ms,
                value=value,
                effective_time=text,
                area=area,
                source=source,
                ingested_at_ms=ingested_at_ms,
            )
        )
    return answer


def parse_body(
    body: bytes | str, *, area: str = "", source: str = "live", ingested_at_ms: int = 0
) -> ParsedAnswer:
    """Raw HTTP body to readings; see :func:`parse_document`."""
    return parse_document(
        decode_json(body), area=area, source=source, ingested_at_ms=ingested_at_ms
    )
