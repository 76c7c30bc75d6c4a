"""Forecasts for many feature vectors at once (pure logic for smart-ml-forecaster).

:class:`ModelBook` holds the model applied to each series (loaded lazily from the registry,
replaced on ``model_updates``). :func:`forecast_batch` turns the vectors a Kafka batch issued
into ``Forecast`` messages: every vector of the same model goes through ONE
``forecast_many`` call (the trees at the 17 anchor leads of each vector, the 96 steps
interpolated; equal to ``predict_levels`` at every lead), which is what lets the forecaster
keep up with a replay; vectors without a model get the seasonal-naive trajectory, labelled. A
model trajectory that is not finite everywhere falls back to seasonal-naive too (the
downstream consumers reject NaN quantiles).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gridstream.core.cleaning.rules import DEFAULT_RULES
from gridstream.core.features import SLOT_MS
from gridstream.core.features.grid import HORIZON_STEPS
from gridstream.core.forecasting import QuantileForecaster, Trajectory
from gridstream.core.forecasting.baselines import seasonal_naive_many
from gridstream.errors import GridstreamError
from gridstream.schemas import forecast_pb2
from gridstream.services.forecaster.wire import encode_steps

log = logging.getLogger(__name__)
_LEADS = np.arange(1, HORIZON_STEPS + 1, dtype=np.int64)
_MINUTES = (_LEADS * (SLOT_MS // 60_000)).tolist()


class ModelBook:
    """The current model per series (None: no model yet, seasonal-naive)."""

    def __init__(self, registry_root: Path) -> None:
        self.root = registry_root
        self._models: dict[str, QuantileForecaster | None] = {}
        self._versions: dict[tuple[str, str], QuantileForecaster] = {}

    def get(self, series_id: str) -> QuantileForecaster | None:
        if series_id not in self._models:
            try:
                self._models[series_id] = QuantileForecaster.load(self.root, series_id)
                log.info("%s: using model %s", series_id, self._models[series_id].version)  # type: ignore[union-attr]
            except GridstreamError as exc:
                log.info("%s: no usable model yet (%s); seasonal-naive", series_id, exc)
                self._models[series_id] = None
        return self._models[series_id]

    def install(self, series_id: str, version: str) -> QuantileForecaster:
        """Load ``version`` from the registry and use it from now on (raises RegistryError)."""
        current = self._models.get(series_id)
        if current is not None and current.version == version:
            return current
        model = QuantileForecaster.load(self.root, series_id, version)
        self._models[series_id] = model
        log.info("%s: hot-reloaded model %s", series_id, version)
        return model

    def at(self, series_id: str, version: str) -> QuantileForecaster | None:
        """The model ``version`` of a series ("": none, seasonal-naive), loaded once."""
        if not version:
            return None
        key = (series_id, version)
        model = self._versions.get(key)
        if model is None:
            model = QuantileForecaster.load(self.root, series_id, version)
            self._versions[key] = model
            for old in [k for k in self._versions if k[0] == series_id][:-3]:
                del self._versions[old]  # the newest three per series stay loaded
        self._models[series_id] = model
        return model

    def versions(self) -> dict[str, str | None]:
        return {s: (m.version if m else None) for s, m in self._models.items()}


@dataclass(frozen=True)
class Issue:
    """One forecast to issue: the vector's identity, features and the model chosen for it."""

    series_id: str
    region: str
    field: str
    issue_ts_ms: int
    values: np.ndarray  # the vector's features in ``feature_names()`` order, NaN: unknown
    model: QuantileForecaster | None
    correlation_id: str = ""


def forecast_batch(issues: list[Issue], num_threads: int = 2) -> list[forecast_pb2.Forecast]:
    """Forecast messages for ``issues``, in the same order."""
    trajectories: list[Trajectory | None] = [None] * len(issues)
    groups: dict[int, list[int]] = {}
    for i, issue in enumerate(issues):
        if issue.model is not None:
            groups.setdefault(id(issue.model), []).append(i)
    for members in groups.values():
        model = issues[members[0]].model
        assert model is not None
        predicted = _predict(model, [issues[i] for i in members], num_threads)
        for i, trajectory in zip(members, predicted, strict=True):
            if all(np.isfinite(q).all() for q in (trajectory.p10, trajectory.p50, trajectory.p90)):
                trajectories[i] = trajectory
    naive = [i for i, chosen in enumerate(trajectories) if chosen is None]
    if naive:
        matrix = np.stack([issues[i].values for i in naive])
        stamps = [issues[i].issue_ts_ms for i in naive]
        for i, trajectory in zip(naive, seasonal_naive_many(matrix, stamps), strict=True):
            trajectories[i] = trajectory
    made = [t for t in trajectories if t is not None]
    encoded = encode_steps(made, _MINUTES)
    if encoded is None:
        return [to_message(issue, chosen) for issue, chosen in zip(issues, made, strict=True)]
    out = []
    for issue, chosen, steps in zip(issues, made, encoded, strict=True):
        msg = _header(issue, chosen)
        msg.MergeFromString(steps)
        out.append(msg)
    return out


def _predict(model: QuantileForecaster, issues: list[Issue], num_threads: int) -> list[Trajectory]:
    """The 24 h trajectories of ``issues`` from one batched model call."""
    matrix = np.stack([i.values for i in issues])
    stamps = np.array([i.issue_ts_ms // SLOT_MS * SLOT_MS for i in issues], dtype=np.int64)
    threads = num_threads if len(issues) >= 32 else 1
    return model.forecast_many(matrix, stamps, num_threads=threads)


def to_message(issue: Issue, trajectory: Trajectory) -> forecast_pb2.Forecast:
    """The forecast message of one trajectory, its steps added one by one."""
    msg = _header(issue, trajectory)
    targets = trajectory.target_ts_ms.tolist()
    steps = msg.steps
    for k, (p10, p50, p90) in enumerate(
        zip(trajectory.p10.tolist(), trajectory.p50.tolist(), trajectory.p90.tolist(), strict=True)
    ):
        steps.add(target_time_ms=targets[k], horizon_minutes=_MINUTES[k], p10=p10, p50=p50, p90=p90)
    return msg


def _header(issue: Issue, trajectory: Trajectory) -> forecast_pb2.Forecast:
    rule = DEFAULT_RULES.get(issue.field)
    return forecast_pb2.Forecast(
        forecast_id=f"{issue.series_id}@{issue.issue_ts_ms}",
        series_id=issue.series_id,
        region=issue.region,
        field=issue.field,
        issue_time_ms=issue.issue_ts_ms,
        model_version=trajectory.model_version,
        model_kind=trajectory.model_kind,
        unit=rule.unit if rule is not None else "",
    )
