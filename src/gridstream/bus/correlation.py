"""Correlation ids: one id follows a reading from ingestion to every record it caused.

The id travels as the ``gs-correlation-id`` Kafka header. A record without one starts a new
chain with its own ``record_id`` (raw readings) or its coordinates. While a record is being
processed its id is the *current* one, and service logs (JSON) carry it as ``correlation_id``.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence

from google.protobuf.message import Message

CORRELATION_HEADER = "gs-correlation-id"

current_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gridstream_correlation_id", default=None
)


def correlation_from(
    headers: Sequence[tuple[str, bytes | None]] | None,
    value: Message | None,
    coordinates: str,
) -> str:
    """The record's correlation id: its header, else its record id, else its coordinates."""
    for key, raw in headers or ():
        if key == CORRELATION_HEADER and raw:
            return raw.decode(errors="replace")
    record_id = getattr(value, "record_id", "") if value is not None else ""
    return str(record_id) if record_id else coordinates


def correlation_header(correlation_id: str) -> tuple[str, bytes]:
    return (CORRELATION_HEADER, correlation_id.encode())


class CorrelationFilter(logging.Filter):
    """Adds ``record.correlation_id`` (None outside record processing) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = current_correlation.get()
        return True
