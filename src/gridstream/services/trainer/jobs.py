"""What smart-model-trainer trains, when, on which window — and the ModelUpdate it publishes.

Decisions per series (``decide``), checked every ``check_interval_s`` of wall time:

* ``bootstrap`` — no promoted model and at least ``min_history_days`` of history: a SMALL, fast
  model (``bootstrap_samples`` pairs × ``bootstrap_rounds`` rounds, on the latest
  ``bootstrap_weeks`` weeks) so forecasts carry a model within minutes of ``gridstream up``.
  Eight weeks or more give a useful model; less (the default threshold is six days, so a
  one-week replay gets one) gives a weak stop-gap that the first scheduled run replaces if it
  does better. A bootstrap with no incumbent is promoted (the forecaster otherwise runs
  seasonal-naive).
* ``schedule`` — by DATA time: the history has advanced ``retrain_interval_hours`` (daily by
  default) past the end of the current model's window; a replay at full speed would ask for
  a retrain every few seconds of wall time, so ``min_retrain_gap_s`` of wall time must also
  have passed since the series' previous run.
* ``drift`` — the live error: the current model is scored (mean pinball loss over the 15 min,
  1 h, 4 h and 24 h leads, the same figure as its validation metric) on every origin since its
  window ended. Features are causal, so this is exactly the error its live forecasts made.
  :class:`RetrainPolicy` says ``drift`` when it exceeds the validation error by
  ``drift_margin`` on at least a day of origins.
* ``manual`` — ``POST /train``.

Full runs use ``TrainConfig()`` on the latest ``train_weeks`` weeks, with ``validation_days``
held out; a candidate is promoted only if it beats the incumbent on that window
(:func:`gridstream.core.forecasting.training.train_series`).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from gridstream.core.features import SERIES_FIELDS
from gridstream.core.features.grid import SLOT_MINUTES
from gridstream.core.forecasting import QuantileForecaster, RetrainPolicy, TrainConfig
from gridstream.core.forecasting.backtest import PreparedSeries, prepare
from gridstream.core.forecasting.model_schedule import ModelSchedule
from gridstream.core.forecasting.training import TrainOutcome, train_series, validation_loss
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

    check_interval_s: float = 60.0
    min_history_days: float = 6.0
    bootstrap_weeks: int = 8
    bootstrap_samples: int = 30_000
    bootstrap_rounds: int = 60
    train_weeks: int = 156
    samples: int = 200_000
    rounds: int = 160  # TrainConfig's, as in `gridstream backtest` (demand's median: 1,200)
    threads: int = 2
    validation_days: int = 28
    retrain_interval_hours: float = 24.0
    min_retrain_gap_s: float = 3600.0
    drift_margin: float = 0.25

    def policy(self) -> RetrainPolicy:
        return RetrainPolicy(
            interval_ms=int(self.retrain_interval_hours * 3_600_000),
            drift_margin=self.drift_margin,
            min_live_samples=96,
        )


def series_id(region: str, name: str) -> str:
    return f"{region}/{SERIES_FIELDS[name]}"


def short_name(sid: str) -> tuple[str, str]:
    region, _, fld = sid.partition("/")
    if fld not in _SHORT:
        raise GridstreamError(f"{sid!r} is not a trained series; use REGION/{sorted(_SHORT)}")
    return region, _SHORT[fld]


def observed_span(prepared: PreparedSeries) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last slot with an observed value."""
    ok = np.isfinite(prepared.values)
    if not ok.any():
        return None
    idx = prepared.index[ok]
    return idx[0], idx[-1]


def raw_span(history: pd.DataFrame, sid: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last reading of a series in a frame of readings."""
    region, _, fld = sid.partition("/")
    ts = history.loc[(history["region"] == region) & (history["field"] == fld), "ts"]
    if ts.empty:
        return None
    return pd.Timestamp(ts.min()), pd.Timestamp(ts.max())


def live_error(
    history: pd.DataFrame, region: str, name: str, registry: ModelRegistry, version: str
) -> tuple[float | None, int, float | None, pd.Timestamp]:
    """Live error of ``version`` on the origins after its window, their count, its
    validation error and the end of its window."""
    sid = series_id(region, name)
    meta = registry.metadata(sid, version)
    until = pd.Timestamp(str(meta.params.get("validation_until", meta.train_until)))
    validation = meta.metrics.get("validation_pinball")
    prepared = prepare(history, region, name)
    span = observed_span(prepared)
    if span is None or span[1] <= until + DAY:
        return None, 0, validation, until
    model = QuantileForecaster.load(registry.root, sid, version)
    end = span[1] + pd.Timedelta(minutes=SLOT_MINUTES)
    loss, _ = validation_loss(prepared, model, until, end)
    lo, hi = prepared.position(until), prepared.position(end)
    origins = int(np.isfinite(prepared.values[lo:hi]).sum())
    return (loss if np.isfinite(loss) else None), origins, validation, until


def model_window_end(registry: ModelRegistry, sid: str, version: str) -> pd.Timestamp:
    meta = registry.metadata(sid, version)
    return pd.Timestamp(str(meta.params.get("validation_until", meta.train_until)))


def decide(
    history: pd.DataFrame,
    region: str,
    name: str,
    registry: ModelRegistry,
    config: TrainerSettings,
    may_check_drift: bool,
) -> str | None:
    """Why to train this series now (bootstrap, schedule, drift), or None.

    ``history`` holds the region's recent readings; ``may_check_drift`` rate-limits the
    (costlier) live-error evaluation."""
    sid = series_id(region, name)
    span = raw_span(history, sid)
    if span is None:
        return None
    current = registry.current(sid)
    if current is None:
        days = (span[1] - span[0]) / DAY
        return "bootstrap" if days >= config.min_history_days else None
    latest_ms = int(span[1].value // 1_000_000)
    try:
        until = model_window_end(registry, sid, current)
        if latest_ms - int(until.value // 1_000_000) >= config.policy().interval_ms:
            return "schedule"
        if not may_check_drift:
            return None
        error, samples, validation, until = live_error(history, region, name, registry, current)
    except GridstreamError as exc:
        log.warning("%s: current model %s unusable (%s): retraining", sid, current, exc)
        return "drift"
    decision = config.policy().decide(
        latest_ms,
        int(until.value // 1_000_000),
        live_error=error,
        live_samples=samples,
        validation_error=validation,
    )
    return decision.reason if decision.yes else None


def run_training(
    history: pd.DataFrame,
    region: str,
    name: str,
    reason: str,
    registry: ModelRegistry,
    config: TrainerSettings,
) -> TrainOutcome | None:
    """Train one series on the latest window of ``history`` (None: not enough history).

    Bootstrap and warm-up runs are small (see the module docstring); the others use the
    full budget."""
    small = reason in SMALL_RUNS
    prepared = prepare(history, region, name)
    del history  # the grid holds what training needs; the caller keeps no reference either
    span = observed_span(prepared)
    if span is None:
        return None
    until = span[1] + pd.Timedelta(minutes=SLOT_MINUTES)
    weeks = config.bootstrap_weeks if small else config.train_weeks
    start = max(span[0], until - pd.Timedelta(weeks=weeks))
    days = (until - start) / DAY
    validation = max(1, min(7 if small else config.validation_days, int(days // 5)))
    if days <= validation + 1:
        return None
    train_config = (
        TrainConfig(
            samples=config.bootstrap_samples,
            rounds=config.bootstrap_rounds,
            num_threads=config.threads,
            calibration_days=7,
            demand_median_rounds_scale=1.0,  # a stop-gap: fast before good
            demand_median_learning_rate_scale=1.0,
        )
        if small
        else TrainConfig(samples=config.samples, rounds=config.rounds, num_threads=config.threads)
    )
    return train_series(prepared, registry, start, until, train_config, validation, reason)


def model_update(outcome: TrainOutcome, registry: ModelRegistry) -> model_pb2.ModelUpdate:
    """The ``model_updates`` event of a promotion."""
    meta = outcome.metadata
    params = meta.params
    until = str(params.get("validation_until", meta.train_until))
    return model_pb2.ModelUpdate(
        series_id=outcome.series_id,
        model_version=outcome.version,
        previous_version=outcome.previous_version or "",
        uri=registry.version_dir(outcome.series_id, outcome.version).resolve().as_uri(),
        trained_at_ms=meta.created_at_ms,
        train_from_ms=_ms(meta.train_from),
        train_until_ms=_ms(until),
        metrics={k: float(v) for k, v in meta.metrics.items() if v == v},
        feature_names=list(meta.feature_names),
        reason=str(params.get("reason", "")),
        data_hash=meta.data_hash,
    )


def _ms(iso: str) -> int:
    return int(pd.Timestamp(iso).value // 1_000_000)


def progress_bar(done: int, total: int, width: int = 20) -> str:
    """A text progress bar for log lines: ``[#####.....] 3/9``."""
    filled = int(width * done / max(total, 1))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 1)
