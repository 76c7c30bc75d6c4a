"""Correlation ids: derived from headers or record ids, and written into JSON service logs."""

from __future__ import annotations

import io
import json
import logging

from gridstream.bus.correlation import (
    CORRELATION_HEADER,
    CorrelationFilter,
    correlation_from,
    current_correlation,
)
from gridstream.schemas.features_pb2 import FeatureVector
from gridstream.schemas.readings_pb2 import RawReading
from gridstream.services.logs import JsonFormatter


def test_header_wins_then_record_id_then_coordinates() -> None:
    raw = RawReading(record_id="ALL/SYSTEM_DEMAND@1640995200000")
    headers = [(CORRELATION_HEADER, b"ALL/SYSTEM_DEMAND@1")]
    assert correlation_from(headers, raw, "t/0/5") == "ALL/SYSTEM_DEMAND@1"
    assert correlation_from(None, raw, "t/0/5") == "ALL/SYSTEM_DEMAND@1640995200000"
    assert correlation_from([], FeatureVector(series_id="x"), "t/0/5") == "t/0/5"


def test_json_logs_carry_the_current_correlation_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("smart-test"))
    handler.addFilter(CorrelationFilter())
    logger = logging.getLogger("gridstream.test.correlation")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("outside")
        token = current_correlation.set("ROI/WIND_ACTUAL@42")
        try:
            logger.info("inside")
        finally:
            current_correlation.reset(token)
    finally:
        logger.removeHandler(handler)
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "correlation_id" not in outside
    assert inside["correlation_id"] == "ROI/WIND_ACTUAL@42"
    assert inside["service"] == "smart-test" and inside["message"] == "inside"
