"""Building dead-letter records: the original bytes plus who rejected them, why and where."""

from __future__ import annotations

import time

from gridstream.schemas.dead_letter_pb2 import DeadLetter

HEADER_SERVICE = "gs-dlq-service"
HEADER_REASON = "gs-dlq-reason"
HEADER_SOURCE = "gs-dlq-source"  # topic/partition/offset
#: larger originals are cut to this many bytes, so the dead letter itself stays producible
MAX_ORIGINAL_BYTES = 512 * 1024


def dead_letter(
    service: str,
    reason: str,
    error_type: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]] | None,
) -> tuple[DeadLetter, list[tuple[str, bytes]]]:
    """The DeadLetter message and the headers that summarise it."""
    if value is not None and len(value) > MAX_ORIGINAL_BYTES:
        reason = f"{reason} (original value of {len(value)} bytes cut to {MAX_ORIGINAL_BYTES})"
        value = value[:MAX_ORIGINAL_BYTES]
    message = DeadLetter(
        service=service,
        reason=reason[:2000],
        error_type=error_type,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        original_key=key or b"",
        original_value=value or b"",
        failed_at_ms=int(time.time() * 1000),
    )
    for name, raw in headers or ():
        if raw is not None:
            message.original_headers[name] = raw.decode(errors="replace")
    extra = [
        (HEADER_SERVICE, service.encode()),
        (HEADER_REASON, reason[:500].encode()),
        (HEADER_SOURCE, f"{topic}/{partition}/{offset}".encode()),
    ]
    return message, extra
