"""smart-preprocessor on a real broker fed with bad input on ``raw_energy_data``.

Every poison record lands in ``dead_letter`` with its reason, the service keeps running and
the counts reconcile. The preprocessor is not 1:1, by design: an exact duplicate (same series,
time and value) is suppressed and counted in the series state (``SeriesState.duplicates``),
so what reconciles is

    records consumed = clean readings + dead letters + suppressed duplicates.

Out-of-order and conflicting records are not errors: they come out flagged ``LATE`` and
``DUPLICATE_CONFLICT``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gridstream.bus.reader import read_topic
from gridstream.core.cleaning import SeriesState
from gridstream.schemas import common_pb2
from gridstream.schemas.readings_pb2 import CleanReading, RawReading
from gridstream.services.preprocessor.service import SERVICE, preprocessor_runner

from .bad_input_support import (
    FUTURE,
    SID,
    T0,
    Case,
    Outcome,
    Q,
    Running,
    check_dead_letters,
    dead_letters,
    reading_fields,
    run_fed,
    series_case,
    wire_cases,
)
from .ingest_support import pipeline_settings

pytestmark = pytest.mark.integration


def raw(ts_ms: int, value: float, **extra: object) -> RawReading:
    fields = reading_fields(ts_ms, value) | {"has_value": True, "unit": "MW", "source": "replay"}
    return RawReading(**(fields | extra))


def cases(topic: str) -> list[Case]:
    def case(label: str, msg: RawReading, expect: Outcome, reason: str = "") -> Case:
        return series_case(label, topic, msg, expect, reason)

    return [
        case("first", raw(T0, 4000.0), "ok"),
        *wire_cases(topic, SID, raw(T0 + Q, 4001.0)),
        case("nan", raw(T0 + Q, float("nan")), "dead", "not_finite"),
        case("inf", raw(T0 + Q, float("inf")), "dead", "not_finite"),
        case("minus-inf", raw(T0 + Q, float("-inf")), "dead", "not_finite"),
        case("out-of-range-high", raw(T0 + Q, 1e9), "dead", "out_of_range"),
        case("out-of-range-low", raw(T0 + Q, -5.0), "dead", "out_of_range"),
        case("null", raw(T0 + Q, 0.0, has_value=False), "dead", "null_value"),
        case(
            "unknown-field", raw(T0 + Q, 1.0, field="NOPE", series_id=""), "dead", "unknown_field"
        ),
        case("unknown-region", raw(T0 + Q, 1.0, region="XX", series_id=""), "dead", "region"),
        case("wrong-unit", raw(T0 + Q, 1.0, unit="kW"), "dead", "unit_mismatch"),
        case("far-future", raw(FUTURE, 4000.0), "dead", "bad_timestamp"),
        case("int64-max", raw(2**63 - 1, 4000.0), "dead", "bad_timestamp"),
        case("far-past", raw(86_400_000, 4000.0), "dead", "bad_timestamp"),
        case("negative-ts", raw(-Q, 4000.0), "dead", "bad_timestamp"),
        case("second", raw(T0 + 2 * Q, 4002.0), "ok"),
        case("duplicate", raw(T0 + 2 * Q, 4002.0), "ok"),  # suppressed, counted in state
        case("conflict", raw(T0 + 2 * Q, 4100.0), "ok"),  # flagged DUPLICATE_CONFLICT
        case("out-of-order", raw(T0 + Q, 4001.0), "ok"),  # flagged LATE
        case("after-gap", raw(T0 + 6 * Q, 4003.0), "ok"),  # flagged GAP_BEFORE
    ]


def test_bad_raw_readings_are_dead_lettered_and_counts_reconcile(
    kafka_bootstrap, unique, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = pipeline_settings(kafka_bootstrap, unique("badpre"), tmp_path)
    kafka = settings.kafka()
    group = unique("g")
    injected = cases(settings.topics.raw)
    running = run_fed(preprocessor_runner(settings, group=group), kafka, injected)
    try:
        state = _final_state(running)  # (the runner drops its states when it stops)
    finally:
        running.stop()

    letters = dead_letters(kafka, settings.topics.dead_letter)
    per_case = check_dead_letters(injected, letters, SERVICE)
    clean = read_topic(kafka, settings.topics.preprocessed, CleanReading)
    assert all(r.value.series_id == SID for r in clean)
    by_ts = {(r.value.ts_ms, tuple(r.value.flags)) for r in clean}
    gap = common_pb2.QUALITY_FLAG_GAP_BEFORE  # T0 + Q came only as poison, then late
    assert by_ts >= {(T0, ()), (T0 + 2 * Q, (gap,)), (T0 + 6 * Q, (gap,))}
    assert (T0 + 2 * Q, (common_pb2.QUALITY_FLAG_DUPLICATE_CONFLICT,)) in by_ts
    assert (T0 + Q, (common_pb2.QUALITY_FLAG_LATE,)) in by_ts
    # the poison left the series' state alone: the newest accepted time is the real one
    assert state.last_ts_ms == T0 + 6 * Q, "a rejected record moved the series' clock"
    reconciled = len(clean) + sum(per_case.values()) + state.duplicates
    assert running.consumed() == len(injected) == reconciled, (
        len(injected),
        len(clean),
        sum(per_case.values()),
        state.duplicates,
    )


def _final_state(running: Running) -> SeriesState:
    for view in running.runner._states.values():
        found = view.get(SID)
        if found is not None:
            assert isinstance(found, SeriesState)
            return found
    raise AssertionError(f"no state for {SID}")
