"""The forecaster follows the trainer in event time: whatever the interleaving of vectors and
model updates, and across a crash, every forecast carries the model decided for its origin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridstream.bus.processor import InRecord
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.core.features import feature_names
from gridstream.core.forecasting import Trajectory
from gridstream.core.forecasting.trajectory import MODEL_KIND_LIGHTGBM
from gridstream.schemas import features_pb2, forecast_pb2, model_pb2
from gridstream.services.forecaster import model_join
from gridstream.services.forecaster.batch import ModelBook
from gridstream.services.forecaster.model_join import Timeline
from gridstream.services.forecaster.service import ForecasterProcessor, ForecasterSettings

DAY = 86_400_000
SLOT = 900_000
START = 1_646_092_800_000  # 1 Mar 2022 00:00 UTC, a checkpoint
SID = "ALL/SYSTEM_DEMAND"


class StubModel:
    """A model that forecasts its own version number (the trees are not what is tested)."""

    def __init__(self, version: str) -> None:
        self.version = version

    def forecast_many(self, matrix: np.ndarray, stamps: np.ndarray, num_threads: int = 1) -> list:
        level = float(self.version.removeprefix("v"))
        return [
            Trajectory(
                int(ts),
                np.full(96, level - 1),
                np.full(96, level),
                np.full(96, level + 1),
                self.version,
                MODEL_KIND_LIGHTGBM,
            )
            for ts in stamps.tolist()
        ]


class StubBook(ModelBook):
    """Versions "v<N>" load as stubs; the registry is never read."""

    def __init__(self) -> None:
        super().__init__(registry_root=__import__("pathlib").Path("/nonexistent"))

    def get(self, series_id: str):  # type: ignore[no-untyped-def]
        return None

    def at(self, series_id: str, version: str):  # type: ignore[no-untyped-def]
        return StubModel(version) if version else None


def _processor() -> ForecasterProcessor:
    proc = ForecasterProcessor(
        Settings(), ForecasterSettings(follow_trainer=True, trainer_grace_hours=24 * 30)
    )
    proc.models = StubBook()
    return proc


def _vector(ts: int) -> InRecord:
    values = np.full(len(feature_names()), np.nan)
    msg = features_pb2.FeatureVector(series_id=SID, ts_ms=ts, value=4000.0)
    msg.values.extend(values.tolist())
    return InRecord("ml_ready", 0, ts, SID, msg, ts)


def _update(checkpoint: int, version: str) -> InRecord:
    msg = model_pb2.ModelUpdate(series_id=SID, model_version=version, train_until_ms=checkpoint)
    return InRecord("model_updates", 0, checkpoint, SID, msg, checkpoint)


def _run(records: list[InRecord], crash_at: int | None = None) -> list[tuple[int, str]]:
    """Feed ``records`` in this order; at ``crash_at`` the processor is lost and a new one
    restores the state from its codec bytes (as the runner does from the changelog)."""
    proc = _processor()
    state: StateView = StateView(0)
    out: list[forecast_pb2.Forecast] = []
    for i, record in enumerate(records):
        if crash_at is not None and i == crash_at:
            codec = proc.state_codec
            assert codec is not None
            saved = {k: codec.to_bytes(state.get(k)) for k in list(state.keys())}  # type: ignore[arg-type]
            proc = _processor()
            state = StateView(0)
            for k, raw in saved.items():
                state.load(k, codec.from_bytes(raw))
        proc.process(record, state)
        out.extend(proc.punctuate(0, {0: state}))  # type: ignore[misc]
    return [(f.issue_time_ms, _version(f)) for f in (o.value for o in out)]  # type: ignore[attr-defined]


def _version(forecast: forecast_pb2.Forecast) -> str:
    """The model version, "" for the seasonal-naive fallback."""
    return "" if forecast.model_version == "seasonal-naive" else forecast.model_version


def _expected(origins: list[int], decisions: dict[int, str]) -> list[tuple[int, str]]:
    """The rule, written out: the decision of the checkpoint one day before the origin's day."""
    out = []
    for ts in origins:
        serving = ts // DAY * DAY - DAY
        version = ""
        for checkpoint in sorted(decisions):
            if checkpoint <= serving:
                version = decisions[checkpoint] or version
        out.append((ts, version if serving > START else ""))
    return out


ORIGINS = [START + k * 4 * SLOT for k in range(4 * 24 // 4 * 5)]  # 5 days, hourly
DECISIONS = {START + DAY: "", START + 2 * DAY: "v2", START + 3 * DAY: "", START + 4 * DAY: "v4"}


def test_in_order_forecasts_follow_the_decisions() -> None:
    records = [_vector(ts) for ts in ORIGINS]
    for checkpoint, version in DECISIONS.items():  # each decision right after its checkpoint
        at = next(i for i, r in enumerate(records) if r.offset >= checkpoint)
        records.insert(at + 1, _update(checkpoint, version))
    got = _run(records)
    assert got == _expected(ORIGINS, DECISIONS)
    assert {v for _, v in got} == {"", "v2"}  # v4 serves from day 6, past the data


def test_vectors_wait_for_a_late_decision_then_go_in_order() -> None:
    proc = _processor()
    state: StateView = StateView(0)
    day3 = START + 3 * DAY
    for ts in (START + SLOT, START + 2 * DAY + SLOT, day3, day3 + SLOT):
        proc.process(_vector(ts), state)
    first = list(proc.punctuate(0, {0: state}))
    # day 1 is served by the start; day 2 needs day 1's decision, day 3 day 2's
    assert [o.value.issue_time_ms for o in first] == [START + SLOT]  # type: ignore[attr-defined]
    assert sum(1 for k in list(state.keys()) if k.startswith(model_join.WAIT_PREFIX)) == 3
    proc.process(_update(START + DAY, ""), state)  # day 1's decision: nothing new (kept)
    kept = [o.value for o in proc.punctuate(0, {0: state})]
    assert [(f.issue_time_ms, _version(f)) for f in kept] == [(START + 2 * DAY + SLOT, "")]  # type: ignore[attr-defined]
    proc.process(_update(START + 2 * DAY, "v9"), state)
    released = [o.value for o in proc.punctuate(0, {0: state})]
    assert [(f.issue_time_ms, _version(f)) for f in released] == [
        (day3, "v9"),
        (day3 + SLOT, "v9"),
    ]  # type: ignore[attr-defined]
    assert not any(k.startswith(model_join.WAIT_PREFIX) for k in list(state.keys()))


def test_past_the_grace_the_oldest_go_with_the_model_in_force() -> None:
    proc = ForecasterProcessor(
        Settings(), ForecasterSettings(follow_trainer=True, trainer_grace_hours=6)
    )
    proc.models = StubBook()
    state: StateView = StateView(0)
    origins = [START] + [START + 2 * DAY + k * SLOT for k in range(40)]  # no decision ever
    made = []
    for ts in origins:
        proc.process(_vector(ts), state)
        made.extend(o.value.issue_time_ms for o in proc.punctuate(0, {0: state}))  # type: ignore[attr-defined]
    assert made == origins[: len(made)] and 1 < len(made) < len(origins)
    assert origins[-1] - origins[len(made)] <= 6 * 3_600_000


def test_series_the_trainer_does_not_model_never_wait() -> None:
    proc = _processor()
    state: StateView = StateView(0)
    msg = features_pb2.FeatureVector(series_id="ALL/SNSP_ALL", ts_ms=START + 5 * DAY, value=50.0)
    msg.values.extend([float("nan")] * len(feature_names()))
    proc.process(InRecord("ml_ready", 0, 1, "ALL/SNSP_ALL", msg, 0), state)
    assert len(list(proc.punctuate(0, {0: state}))) == 1


def test_timeline_state_round_trips() -> None:
    proc = _processor()
    codec = proc.state_codec
    assert codec is not None
    timeline = Timeline(START, "v1", [(START + DAY, "v2")])
    assert codec.from_bytes(codec.to_bytes(timeline)) == timeline
    assert codec.from_bytes(codec.to_bytes(START)) == START
    with pytest.raises(Exception, match="forecaster state is not valid"):
        codec.from_bytes(b"{not json at all}")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_interleaving_and_a_crash_give_the_same_forecasts(data: st.DataObject) -> None:
    vectors = [_vector(ts) for ts in ORIGINS]
    updates = [_update(c, v) for c, v in sorted(DECISIONS.items())]
    # the trainer decides a checkpoint only after its data passed it: an update is never
    # ahead of the first vector at its checkpoint on the trainer's side, but the forecaster
    # may see it at any point relative to its own vectors
    order = data.draw(st.permutations([0] * len(vectors) + [1] * len(updates)))
    merged, vi, ui = [], 0, 0
    for source in order:
        if source == 0:
            merged.append(vectors[vi])
            vi += 1
        else:
            merged.append(updates[ui])
            ui += 1
    crash = data.draw(st.none() | st.integers(0, len(merged) - 1))
    got = _run(merged, crash)
    assert got == _expected(ORIGINS, DECISIONS)
