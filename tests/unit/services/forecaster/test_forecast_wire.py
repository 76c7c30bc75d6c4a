"""Forecast steps encoded for a whole batch give the same messages as steps added one by one."""

from __future__ import annotations

import numpy as np

from gridstream.core.features import feature_names
from gridstream.core.forecasting import Trajectory
from gridstream.core.forecasting.trajectory import MODEL_KIND_LIGHTGBM
from gridstream.schemas import forecast_pb2
from gridstream.services.forecaster.batch import Issue, forecast_batch, to_message
from gridstream.services.forecaster.wire import encode_steps

MINUTES = list(range(15, 24 * 60 + 1, 15))
JAN_2022 = 1_640_995_200_000


def _trajectory(rng: np.random.Generator, issue_ts_ms: int) -> Trajectory:
    p50 = rng.normal(4000, 800, size=96)
    specials = [0.0, -0.0, 1e-300, -1e300, np.inf, np.nan, 5e-324]
    p50[rng.integers(0, 96, 6)] = rng.choice(specials, 6)
    return Trajectory(issue_ts_ms, p50 - 100, p50, p50 + 100, "v7", MODEL_KIND_LIGHTGBM)


def _values(**known: float) -> np.ndarray:
    names = feature_names()
    values = np.full(len(names), np.nan)
    for name, value in known.items():
        values[names.index(name)] = value
    return values


def _issue(ts: int) -> Issue:
    return Issue("ALL/SYSTEM_DEMAND", "ALL", "SYSTEM_DEMAND", ts, _values(), None, "c-1")


def test_batch_encoding_equals_steps_added_one_by_one() -> None:
    rng = np.random.default_rng(4)
    stamps = [JAN_2022 + k * 900_000 for k in range(0, 4000, 37)]
    trajectories = [_trajectory(rng, ts) for ts in stamps]
    encoded = encode_steps(trajectories, MINUTES)
    assert encoded is not None and len(encoded) == len(trajectories)
    for ts, trajectory, steps in zip(stamps, trajectories, encoded, strict=True):
        slow = to_message(_issue(ts), trajectory)
        fast = forecast_pb2.Forecast()
        fast.CopyFrom(slow)
        del fast.steps[:]
        fast.MergeFromString(steps)
        assert fast.SerializeToString(deterministic=True) == slow.SerializeToString(
            deterministic=True
        )
        assert [s.horizon_minutes for s in fast.steps] == MINUTES
        assert fast.steps[5].target_time_ms == ts + 6 * 900_000


def test_times_outside_the_fixed_layout_fall_back_to_one_by_one() -> None:
    rng = np.random.default_rng(5)
    early = [_trajectory(rng, 1_000)]  # 1970: a shorter varint
    assert encode_steps(early, MINUTES) is None
    short = [Trajectory(JAN_2022, np.zeros(3), np.zeros(3), np.zeros(3), "v", "k")]
    assert encode_steps(short, MINUTES) is None
    assert encode_steps([], MINUTES) is None
    # forecast_batch still makes the message, steps added one by one
    issue = Issue("ALL/SYSTEM_DEMAND", "ALL", "SYSTEM_DEMAND", 1_000, _values(value=4000.0), None)
    (msg,) = forecast_batch([issue])
    assert len(msg.steps) == 96 and msg.steps[0].target_time_ms == 1_000 + 900_000
