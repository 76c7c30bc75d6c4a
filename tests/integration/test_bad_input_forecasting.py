"""Bad input on the forecasting services' topics, on a real broker (processors in-process).

What reconciles:

* smart-ml-preprocessor: ``preprocessed_data`` -> its by-region topic is 1:1 for accepted
  readings, so clean readings consumed = repartitioned + dead letters.
* smart-ml-forecaster: it forecasts once per series and quarter-hour, so of the accepted
  feature vectors only the newest-so-far on-slot vector of a forecast field yields a forecast;
  duplicates and out-of-order vectors yield none. Consumed = accepted + dead letters on each
  input topic, and the forecasts are exactly one per expected issue time. A vector dated far
  in the future is dead-lettered: accepted, it would mute the series' forecasts for good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gridstream.bus.reader import read_topic
from gridstream.schemas import features_pb2, forecast_pb2, model_pb2, readings_pb2
from gridstream.services.forecaster.service import SERVICE as FORECASTER
from gridstream.services.forecaster.service import forecaster_runner
from gridstream.services.ml_preprocessor.service import SERVICE as ML_PRE
from gridstream.services.ml_preprocessor.service import ml_preprocessor_runner, repartition_topic

from .bad_input_support import (
    FUTURE,
    NAN,
    SID,
    T0,
    Q,
    check_dead_letters,
    dead_letters,
    feature_vector,
    message_case,
    run_fed,
    series_case,
    wire_cases,
)
from .bad_input_support import clean_reading as clean
from .ingest_support import pipeline_settings

pytestmark = pytest.mark.integration


def test_ml_preprocessor_bad_input(kafka_bootstrap, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = pipeline_settings(kafka_bootstrap, unique("badml"), tmp_path)
    pre = settings.topics.preprocessed

    cases = [
        *[series_case(f"ok-{i}", pre, clean(T0 + i * Q, 4000.0 + i), "ok") for i in range(4)],
        *wire_cases(pre, SID, clean(T0 + 4 * Q, 4000.0)),
        series_case("nan", pre, clean(T0 + 4 * Q, NAN), "dead", "bad reading"),
        series_case("inf", pre, clean(T0 + 4 * Q, float("inf")), "dead", "bad reading"),
        series_case("far-future", pre, clean(FUTURE, 4000.0), "dead", "bad reading"),
        series_case("far-past", pre, clean(86_400_000, 4000.0), "dead", "bad reading"),
        series_case("no-region", pre, clean(T0, 1.0, region=""), "dead", "region/field"),
        series_case("out-of-range", pre, clean(T0 + 4 * Q, 1e12), "ok"),
        series_case("duplicate", pre, clean(T0 + 4 * Q, 1e12), "ok"),
        series_case("out-of-order", pre, clean(T0 + Q, 4001.0), "ok"),
    ]
    run_fed(ml_preprocessor_runner(settings, group=unique("g")), settings.kafka(), cases).stop()
    kafka = settings.kafka()
    letters = [r for r in dead_letters(kafka, settings.topics.dead_letter)]
    per_case = check_dead_letters(cases, letters, ML_PRE)
    forwarded = read_topic(kafka, repartition_topic(settings), readings_pb2.CleanReading)
    assert len(cases) == len(forwarded) + sum(per_case.values())
    assert {r.value.ts_ms for r in forwarded} == {T0 + i * Q for i in range(5)}
    for record in read_topic(kafka, settings.topics.ml_ready, features_pb2.FeatureVector):
        assert T0 <= record.value.ts_ms <= T0 + 4 * Q  # no poison reached the features


def vector(ts_ms: int, **extra: Any) -> features_pb2.FeatureVector:
    return feature_vector(ts_ms, 4000.0, feature_set="test", **extra)


def test_forecaster_bad_input(kafka_bootstrap, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = pipeline_settings(kafka_bootstrap, unique("badfc"), tmp_path)
    ml, mu = settings.topics.ml_ready, settings.topics.model_updates

    cases = [
        series_case("v0", ml, vector(T0), "ok"),
        *wire_cases(ml, SID, vector(T0 + Q)),
        *wire_cases(mu, SID, model_pb2.ModelUpdate(series_id=SID, model_version="v1")),
        series_case("far-future", ml, vector(FUTURE), "dead", "not plausible"),
        series_case("far-past", ml, vector(86_400_000), "dead", "not plausible"),
        message_case("no-series", ml, "", vector(T0, series_id=""), "dead", "series id"),
        series_case("nan-features", ml, vector(T0 + Q, features={"lag_1": NAN}), "ok"),
        series_case(
            "wrong-feature-count", ml, vector(T0 + 2 * Q, values=[1.0, 2.0]), "dead", "2 feature"
        ),
        series_case("duplicate", ml, vector(T0 + Q), "ok"),  # not forecast twice
        series_case("out-of-order", ml, vector(T0), "ok"),  # not forecast again
        series_case("off-slot", ml, vector(T0 + Q + 60_000), "ok"),  # not on a quarter-hour
        series_case("v2", ml, vector(T0 + 2 * Q), "ok"),
        # the trainer's "no model yet" decision: accepted, installs nothing
        series_case("update-no-version", mu, model_pb2.ModelUpdate(series_id=SID), "ok"),
        series_case(
            "update-unknown",
            mu,
            model_pb2.ModelUpdate(series_id=SID, model_version="nope"),
            "dead",
            "cannot load",
        ),
    ]
    running = run_fed(forecaster_runner(settings, group=unique("g")), settings.kafka(), cases)
    running.stop()
    kafka = settings.kafka()
    per_case = check_dead_letters(
        cases, dead_letters(kafka, settings.topics.dead_letter), FORECASTER
    )
    assert running.consumed() == len(cases)
    issued = sorted(
        r.value.issue_time_ms
        for r in read_topic(kafka, settings.topics.forecasts, forecast_pb2.Forecast)
    )
    assert issued == [T0, T0 + Q, T0 + 2 * Q], "one forecast per accepted quarter-hour"
    assert sum(per_case.values()) == sum(1 for case in cases if case.expect == "dead")
