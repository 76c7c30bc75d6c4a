"""What smart-model-trainer trains, on which window, under which version id.

The trainer decides at the :class:`ModelSchedule`'s data-time checkpoints (see
:mod:`gridstream.services.trainer.decisions`). A decision that trains runs here:

* ``bootstrap`` — no model yet and at least ``min_history_days`` of data: trained on the
  latest ``bootstrap_weeks`` weeks with the bootstrap budget. Without an incumbent the model
  is promoted (the forecaster otherwise runs seasonal-naive).
* ``schedule`` (every ``retrain_every_days`` days of data), ``drift`` (the live error since the
  last training exceeds the model's validation error by ``drift_margin``) and ``manual``
  — trained on the latest ``train_weeks`` weeks with ``samples`` × ``rounds``; promoted only
  if it beats the incumbent on the held-out ``validation_days``
  (:func:`gridstream.core.forecasting.training.train_series`).

Every training reads the history before its checkpoint only, and its version id is derived
from that data, the settings and the incumbent (:func:`version_id`): the same data gives the
same id and, LightGBM being run deterministically (fixed seed, ``deterministic=True``,
``threads`` fixed), the same model bytes. The budgets are small on purpose: a replayed year
retrains each series about 50 times, on the Kafka loop.
"""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pandas as pd
from pydantic import Field

from gridstream.core.features import SERIES_FIELDS
from gridstream.core.features.grid import SLOT_MINUTES
from gridstream.core.features.pipeline import FEATURE_SET
from gridstream.core.forecasting import QuantileForecaster, RetrainPolicy
from gridstream.core.forecasting.backtest import PreparedSeries, prepare
from gridstream.core.forecasting.model_cache import ModelCache
from gridstream.core.forecasting.model_schedule import ModelSchedule
from gridstream.core.forecasting.train_config import TrainConfig
from gridstream.core.forecasting.training import (
    Pinned,
    TrainOutcome,
    train_series,
    validation_loss,
)
from gridstream.errors import GridstreamError
from gridstream.schemas import model_pb2
from gridstream.store.registry import ModelRegistry

log = logging.getLogger(__name__)
DAY = pd.Timedelta(days=1)
_SHORT = {v: k for k, v in SERIES_FIELDS.items()}
#: reasons trained on the bootstrap budget; ``warm-up`` is `gridstream up` training before a
#: replay (see :mod:`gridstream.stack.warmup`)
SMALL_RUNS = frozenset({"bootstrap", "warm-up"})


class TrainerSettings(ModelSchedule):
    """``GRIDSTREAM_TRAINER_*``: the trainer service's own settings (the series it models and
    its checkpoints are the :class:`ModelSchedule` the forecaster reads too)."""

    min_history_days: float = 6.0
    bootstrap_weeks: int = 8
    bootstrap_samples: int = 30_000
    bootstrap_rounds: int = 60
    train_weeks: int = 8
    #: the retrains' budget: a replayed year retrains each series some 50 times on the loop
    samples: int = 10_000
    rounds: int = 40
    #: LightGBM threads per training. One: the trainer shares the cores with the pipeline,
    #: and a second thread there bought no time: a demand retrain took 3.1 CPU s on one
    #: thread and 4.4 on two with OpenMP's threads sleeping when idle (24.6 with them
    #: spinning), 4.4 s and 7.4 s of wall time, same validation loss
    threads: int = 1
    validation_days: int = 7
    #: data days between two scheduled retrains of a series
    retrain_every_days: float = Field(7.0, gt=0)
    drift_margin: float = 0.25
    #: data days after a training before drift may retrain (its error is judged on them)
    drift_min_days: float = Field(3.0, gt=0)
    #: data hours the decision at a checkpoint waits for an input that has not reached it: a
    #: week, as the detector's and storage joins (in a 14-day verify replay with a broker
    #: restart the CO2 partition ran more than 120 h of data ahead of demand and wind)
    grace_hours: float = Field(168.0, ge=0)
    #: wall seconds of training per batch before the rest waits for the next batch (keeps a
    #: transaction far below its timeout; what is decided does not depend on it)
    train_budget_s: float = Field(10.0, gt=0)

    def policy(self) -> RetrainPolicy:
        return RetrainPolicy(
            interval_ms=int(self.retrain_every_days * 86_400_000),
            drift_margin=self.drift_margin,
            min_live_samples=96,
        )

    @property
    def drift_min_ms(self) -> int:
        return int(self.drift_min_days * 86_400_000)

    @property
    def grace_ms(self) -> int:
        return int(self.grace_hours * 3_600_000)

    def window_weeks(self, reason: str) -> int:
        return self.bootstrap_weeks if reason in SMALL_RUNS else self.train_weeks

    def train_config(self, reason: str) -> TrainConfig:
        if reason in SMALL_RUNS:
            return TrainConfig(
                samples=self.bootstrap_samples,
                rounds=self.bootstrap_rounds,
                num_threads=self.threads,
                calibration_days=7,
                demand_median_rounds_scale=1.0,  # a stop-gap: fast before good
                demand_median_learning_rate_scale=1.0,
            )
        # the demand median at the other models' rounds (its offline default is 7.5 times as
        # many, for 200,000 pairs): on the retrains' 10,000 pairs the extra rounds bought
        # nothing. Weekly retrains of all-island demand, loss on the 7 days after each:
        # 2021 (chosen on) mean pinball 23.55 -> 23.54, 2022 (held out) 24.03 -> 23.53,
        # 24 h MAPE 2.66 % -> 2.61 %; 2.57 -> 0.85 CPU s per retrain
        return TrainConfig(
            samples=self.samples,
            rounds=self.rounds,
            num_threads=self.threads,
            demand_median_rounds_scale=1.0,
        )


def series_id(region: str, name: str) -> str:
    return f"{region}/{SERIES_FIELDS[name]}"


def short_name(sid: str) -> tuple[str, str]:
    region, _, fld = sid.partition("/")
    if fld not in _SHORT:
        raise GridstreamError(f"{sid!r} is not a trained series; use REGION/{sorted(_SHORT)}")
    return region, _SHORT[fld]


def prepared_or_none(history: pd.DataFrame, region: str, name: str) -> PreparedSeries | None:
    """The series' grid and features, or None when the region has no reading in ``history``
    (a feed down for longer than the window read; the grid needs a slot to start from)."""
    if not bool((history["region"] == region).any()):
        return None
    return prepare(history, region, name)


def observed_span(prepared: PreparedSeries) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last slot with an observed value."""
    ok = np.isfinite(prepared.values)
    if not ok.any():
        return None
    idx = prepared.index[ok]
    return idx[0], idx[-1]


def live_error(
    prepared: PreparedSeries, model: QuantileForecaster, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[float | None, int]:
    """Live error of ``model`` on the origins in ``[start, end)`` (features are causal: the
    error its live forecasts made there), and their count."""
    if prepared.index[0] > start:
        return None, 0
    loss, _ = validation_loss(prepared, model, start, end)
    lo, hi = prepared.position(start), prepared.position(end)
    origins = int(np.isfinite(prepared.values[lo:hi]).sum())
    return (loss if np.isfinite(loss) else None), origins


def frame_hash(history: pd.DataFrame) -> str:
    """SHA-256 of a frame of readings, whatever its row order."""
    ordered = history.sort_values(["ts", "region", "field"], kind="stable")
    digest = hashlib.sha256()
    digest.update(pd.DatetimeIndex(ordered["ts"]).as_unit("ms").asi8.tobytes())
    digest.update(
        "|".join(ordered["region"].astype(str) + "/" + ordered["field"].astype(str)).encode()
    )
    digest.update(np.nan_to_num(ordered["value"].to_numpy(np.float64), nan=-1e300).tobytes())
    return digest.hexdigest()


def version_id(
    sid: str, until: pd.Timestamp, history_hash: str, config: TrainConfig, incumbent: str | None
) -> str:
    """A version id from the training data, the settings and the incumbent, never the wall
    clock: ``<data end>-<hash>``, so ids still sort by the data they were trained on."""
    doc = {
        "series": sid,
        "data": history_hash,
        "config": config.as_dict(),
        "features": FEATURE_SET,
        "incumbent": incumbent or "",
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    return f"{until.strftime('%Y%m%dT%H%MZ')}-{digest[:16]}"


def run_training(
    history: pd.DataFrame,
    region: str,
    name: str,
    reason: str,
    registry: ModelRegistry,
    config: TrainerSettings,
    incumbent: str | None = None,
    deterministic: bool = False,
    cache: ModelCache | None = None,
) -> TrainOutcome | None:
    """Train one series on the latest window of ``history`` (None: not enough history).

    ``deterministic``: the version id is derived from the data (:func:`version_id`) and the
    run is judged against ``incumbent``; otherwise against the registry's current model."""
    small = reason in SMALL_RUNS
    prepared = prepared_or_none(history, region, name)
    span = None if prepared is None else observed_span(prepared)
    if prepared is None or span is None:
        return None
    until = span[1] + pd.Timedelta(minutes=SLOT_MINUTES)
    start = max(span[0], until - pd.Timedelta(weeks=config.window_weeks(reason)))
    days = (until - start) / DAY
    validation = max(1, min(7 if small else config.validation_days, int(days // 5)))
    if days <= validation + 1:
        return None
    train_config = config.train_config(reason)
    pinned = None
    if deterministic:
        sid = series_id(region, name)
        used = history[(history["ts"] >= start) & (history["ts"] < until)]
        pinned = Pinned(
            version_id(sid, until, frame_hash(used), train_config, incumbent), incumbent
        )
    del history  # the grid holds what training needs; the caller keeps no reference either
    return train_series(
        prepared,
        registry,
        start,
        until,
        train_config,
        validation,
        reason,
        pinned=pinned,
        cache=cache,
    )


def model_update(
    outcome: TrainOutcome, registry: ModelRegistry, checkpoint_ms: int | None = None
) -> model_pb2.ModelUpdate:
    """The ``model_updates`` event of a trained version (``checkpoint_ms``: the decision's
    checkpoint, its ``train_until_ms``; by default the end of the version's data)."""
    meta = outcome.metadata
    params = meta.params
    until = _ms(str(params.get("validation_until", meta.train_until)))
    return model_pb2.ModelUpdate(
        series_id=outcome.series_id,
        model_version=outcome.version,
        previous_version=outcome.previous_version or "",
        uri=registry.version_dir(outcome.series_id, outcome.version).resolve().as_uri(),
        trained_at_ms=meta.created_at_ms,
        train_from_ms=_ms(meta.train_from),
        train_until_ms=until if checkpoint_ms is None else checkpoint_ms,
        metrics={k: float(v) for k, v in meta.metrics.items() if v == v},
        feature_names=list(meta.feature_names),
        reason=str(params.get("reason", "")),
        data_hash=meta.data_hash,
    )


def _ms(iso: str) -> int:
    return int(pd.Timestamp(iso).value // 1_000_000)
