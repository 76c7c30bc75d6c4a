"""The trainer's decisions in event time: one per trained series and checkpoint.

For each checkpoint ``C`` of the :class:`~gridstream.core.forecasting.model_schedule.
ModelSchedule` (daily by default), in order, the trainer publishes one ``ModelUpdate`` with
``train_until_ms = C``: "keep the model in force" (``reason="keep"``; an empty
``model_version`` while there is none) or "a new version" (``bootstrap``, ``schedule``,
``drift``, ``manual``). A decision reads the history before ``C`` only.

The join of its inputs: a region's series (demand, wind and CO2 intensity: the features of
each read all three) are complete before ``C`` once each one's watermark (its latest reading)
has reached ``C``. The decision waits for that, or until the trainer's latest reading of any
input is ``grace_hours`` of data past ``C``: it is then made anyway and ``missing_inputs``
names the series that had not arrived. Readings older than a checkpoint their own series has
already passed are not used (see :meth:`Decider.accepts`), so what a decision reads depends on
the per-series order of the records alone, never on how partitions interleave — as long as no
input partition lags the others by more than the grace (then the decision is made without
it, which a faster run would not have done; the record says so in ``missing_inputs``).

Why a decision trains:

* ``bootstrap`` — no model yet and ``min_history_days`` of the series' data; before that the
  decision is ``no-model`` (empty version);
* ``manual`` — ``POST /train`` asked for it (applied at the next checkpoint decided);
* ``schedule`` — ``retrain_every_days`` of data since the last training;
* ``drift`` — at least ``drift_min_days`` after the last training, the model's error on the
  origins since then exceeds its validation error by ``drift_margin``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import pandas as pd

from gridstream.core.features import SERIES_FIELDS
from gridstream.core.forecasting.model_cache import ModelCache
from gridstream.errors import GridstreamError
from gridstream.schemas import model_pb2
from gridstream.services.trainer.jobs import (
    DAY,
    TrainerSettings,
    live_error,
    model_update,
    observed_span,
    prepared_or_none,
    run_training,
    short_name,
)
from gridstream.services.trainer.ledger import Ledger, Watermark
from gridstream.store.registry import ModelRegistry

log = logging.getLogger(__name__)
#: a region's readings in ``[since_ms, until_ms)``
HistoryReader = Callable[[str, int, int], pd.DataFrame]
WEEK_MS = 7 * 86_400_000
LAG_LOOKBACK_MS = 8 * 86_400_000  # the features' lags (a week) and a day to spare


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def region_inputs(region: str) -> list[str]:
    return [f"{region}/{fld}" for fld in SERIES_FIELDS.values()]


@dataclass(frozen=True)
class Decision:
    series_id: str
    ledger: Ledger
    update: model_pb2.ModelUpdate
    trained: bool


class Decider:
    def __init__(
        self, config: TrainerSettings, registry: ModelRegistry, history: HistoryReader
    ) -> None:
        self.config = config
        self.registry = registry
        self.history = history
        self.period = config.checkpoint_ms
        self.models = ModelCache(registry.root)

    def accepts(self, mark: Watermark | None, ts_ms: int) -> bool:
        """Whether a reading at ``ts_ms`` may still be used: not older than a checkpoint its
        series' watermark has already passed (that checkpoint may be decided)."""
        return mark is None or ts_ms >= self.config.checkpoint_at_or_before(mark.latest_ms)

    def due(
        self, sid: str, ledger: Ledger | None, marks: Mapping[str, Watermark], frontier_ms: int
    ) -> tuple[int, list[str]] | None:
        """The next checkpoint of ``sid`` that can be decided and its missing inputs, or
        None while it waits (``frontier_ms``: the latest reading of any input)."""
        region, _ = short_name(sid)
        inputs = region_inputs(region)
        if ledger is None:
            firsts = [marks[i].first_ms for i in inputs if i in marks]
            if not firsts:
                return None
            checkpoint = self.config.checkpoint_at_or_before(min(firsts)) + self.period
        else:
            checkpoint = ledger.decided_ms + self.period
        missing = [i for i in inputs if i not in marks or marks[i].latest_ms < checkpoint]
        if not missing:
            return checkpoint, []
        if frontier_ms >= checkpoint + self.config.grace_ms:
            return checkpoint, missing
        return None

    def decide(
        self, sid: str, checkpoint: int, ledger: Ledger | None, missing: list[str]
    ) -> Decision:
        """The decision of ``sid`` at ``checkpoint`` (trains when one is due)."""
        current = ledger or self._initial(sid, checkpoint - self.period)
        reason = self._reason(sid, checkpoint, current)
        if reason is not None and reason != "no-model":
            decided = self._train(sid, checkpoint, current, reason, missing)
            if decided is not None:
                return decided
            reason = "no-model" if not current.version else None
        after = replace(current, decided_ms=checkpoint, manual=False)
        return Decision(sid, after, self._kept(sid, after, reason or "keep", missing), False)

    def _initial(self, sid: str, before: int) -> Ledger:
        """The ledger before the first decision: the registry's current model (a warm-up's
        or a copied registry; the trainer never moves ``CURRENT``, so a restart reads the same
        one), else none."""
        version = self.registry.current(sid)
        if version is None:
            return Ledger(decided_ms=before)
        meta = self.registry.metadata(sid, version)
        until = pd.Timestamp(str(meta.params.get("validation_until", meta.train_until)))
        return Ledger(
            decided_ms=before,
            version=version,
            trained_ms=min(before, int(until.value // 1_000_000)),
            window_from_ms=int(pd.Timestamp(meta.train_from).value // 1_000_000),
            validation=meta.metrics.get("validation_pinball"),
            data_hash=meta.data_hash,
        )

    def _kept(
        self, sid: str, ledger: Ledger, reason: str, missing: list[str]
    ) -> model_pb2.ModelUpdate:
        """The decision to keep the version in force (none yet: an empty version)."""
        version = ledger.version
        return model_pb2.ModelUpdate(
            series_id=sid,
            model_version=version,
            previous_version=version,
            uri=self.registry.version_dir(sid, version).resolve().as_uri() if version else "",
            train_from_ms=ledger.window_from_ms,
            train_until_ms=ledger.decided_ms,
            reason=reason,
            data_hash=ledger.data_hash,
            missing_inputs=missing,
        )

    def _reason(self, sid: str, checkpoint: int, ledger: Ledger) -> str | None:
        if not ledger.version:
            return "bootstrap" if self._history_days(sid, checkpoint) else "no-model"
        if ledger.manual:
            return "manual"
        if checkpoint - ledger.trained_ms >= self.config.policy().interval_ms:
            return "schedule"
        return "drift" if self._drifted(sid, checkpoint, ledger) else None

    def _history_days(self, sid: str, checkpoint: int) -> bool:
        region, name = short_name(sid)
        since = checkpoint - (self.config.bootstrap_weeks + 2) * WEEK_MS
        prepared = prepared_or_none(self.history(region, since, checkpoint), region, name)
        span = None if prepared is None else observed_span(prepared)
        return span is not None and (span[1] - span[0]) / DAY >= self.config.min_history_days

    def _drifted(self, sid: str, checkpoint: int, ledger: Ledger) -> bool:
        """The model's error on the origins since its training exceeds its validation error
        by ``drift_margin`` (judged after ``drift_min_days`` of them)."""
        if ledger.validation is None or checkpoint - ledger.trained_ms < self.config.drift_min_ms:
            return False
        region, name = short_name(sid)
        frame = self.history(region, ledger.trained_ms - LAG_LOOKBACK_MS, checkpoint)
        prepared = prepared_or_none(frame, region, name)
        if prepared is None:
            return False  # no reading since the training: nothing to judge the model on
        try:
            model = self.models.get(sid, ledger.version)
        except GridstreamError as exc:
            log.warning("%s: model %s unusable (%s): retraining", sid, ledger.version, exc)
            return True
        error, samples = live_error(prepared, model, _stamp(ledger.trained_ms), _stamp(checkpoint))
        return (
            self.config.policy()
            .decide(
                checkpoint,
                ledger.trained_ms,
                live_error=error,
                live_samples=samples,
                validation_error=ledger.validation,
            )
            .reason
            == "drift"
        )

    def _train(
        self, sid: str, checkpoint: int, ledger: Ledger, reason: str, missing: list[str]
    ) -> Decision | None:
        region, name = short_name(sid)
        since = checkpoint - (self.config.window_weeks(reason) + 2) * WEEK_MS
        history = self.history(region, since, checkpoint)
        outcome = run_training(
            history,
            region,
            name,
            reason,
            self.registry,
            self.config,
            incumbent=ledger.version or None,
            deterministic=True,
            cache=self.models,
        )
        if outcome is None:
            return None
        trained = replace(ledger, decided_ms=checkpoint, trained_ms=checkpoint, manual=False)
        if outcome.promoted:
            meta = outcome.metadata
            trained = replace(
                trained,
                version=outcome.version,
                window_from_ms=int(pd.Timestamp(meta.train_from).value // 1_000_000),
                validation=outcome.metrics.get("validation_pinball"),
                data_hash=meta.data_hash,
            )
            update = model_update(outcome, self.registry, checkpoint)
            update.reason = reason
            update.missing_inputs.extend(missing)
        else:  # the candidate lost to the incumbent: keep it, say why
            update = self._kept(sid, trained, f"{reason}: kept, {outcome.reason}", missing)
        return Decision(sid, trained, update, trained=True)
