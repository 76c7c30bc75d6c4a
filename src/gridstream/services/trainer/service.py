"""smart-model-trainer: ``preprocessed_data`` -> history store; trains; ``model_updates``.

* The Kafka loop writes every clean reading to the DuckDB history store
  (``<state_dir>/history/history.duckdb``) at the end of each batch, before its offsets are
  committed (upserts by series and time, so a replayed batch writes the same rows again).
* A background thread (:class:`~gridstream.services.trainer.scheduler.TrainingScheduler`)
  trains: bootstrap when a series has no model, daily by data time, on drift of the live
  error, and on ``POST /train`` (see :mod:`gridstream.services.trainer.jobs`). Models go to
  the registry (``<state_dir>/models``); each promotion's ``ModelUpdate`` (keyed by series
  id) is queued and produced by the loop in its next transaction.

HTTP: ``POST /train`` (bearer token; body ``{"series": ["ALL/SYSTEM_DEMAND"]}`` or empty for
every series) -> 202; ``GET /train/status`` — models, the run in progress, recent runs.
"""

from __future__ import annotations

import math
import os
import queue
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, HTTPException
from google.protobuf.message import Message

from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.errors import GridstreamError, ValidationError
from gridstream.http.auth import token_guard
from gridstream.schemas import model_pb2, readings_pb2
from gridstream.services.base import make_runner
from gridstream.services.host import ServiceParts
from gridstream.services.trainer.jobs import TrainerSettings
from gridstream.services.trainer.scheduler import SharedHistory, TrainingScheduler
from gridstream.store.registry import ModelRegistry

SERVICE = "smart-model-trainer"


class TrainerProcessor(Processor[None]):
    punctuate_interval_s = 0.0  # write the batch's readings and publish promotions per batch
    batch_linger_s = 2.0  # not on any latency path: one history write per 2 s at a live rate

    def __init__(self, settings: Settings, history: SharedHistory) -> None:
        self.topics = settings.topics
        self.history = history
        self.updates: queue.Queue[model_pb2.ModelUpdate] = queue.Queue()
        self._rows: list[tuple[int, str, str, float]] = []

    def inputs(self) -> Mapping[str, type[Message]]:
        return {self.topics.preprocessed: readings_pb2.CleanReading}

    def process(self, record: InRecord, state: StateView[None]) -> Iterable[OutRecord]:
        clean = record.value
        assert isinstance(clean, readings_pb2.CleanReading)
        if not clean.region or not clean.field:
            raise ValidationError(f"clean reading without region/field: {clean.record_id!r}")
        if not MIN_TS_MS <= clean.ts_ms < MAX_TS_MS or not math.isfinite(clean.value):
            raise ValidationError(f"{clean.record_id}: bad ts {clean.ts_ms} or value")
        self._rows.append((clean.ts_ms, clean.region, clean.field, clean.value))
        return []

    def punctuate(self, now_ms: int, states: Mapping[int, StateView[None]]) -> Iterable[OutRecord]:
        if self._rows:
            ts, region, fld, value = zip(*self._rows, strict=True)
            self._rows.clear()
            frame = pd.DataFrame(
                {
                    "ts": pd.to_datetime(list(ts), unit="ms", utc=True),
                    "region": list(region),
                    "field": list(fld),
                    "value": list(value),
                }
            )
            self.history.upsert(frame)
        out = []
        while True:
            try:
                update = self.updates.get_nowait()
            except queue.Empty:
                break
            out.append(OutRecord(self.topics.model_updates, update.series_id, update))
        return out

    def on_revoked(self, partitions: list[int]) -> None:
        self._rows.clear()  # not committed: the next owner re-reads them


class TrainerWorker:
    """The Kafka loop plus the training thread, started and stopped together."""

    def __init__(
        self, runner: Runner[None], scheduler: TrainingScheduler, history: SharedHistory
    ) -> None:
        self.runner = runner
        self.scheduler = scheduler
        self.history = history

    def run(self) -> None:
        self.scheduler.start()
        try:
            self.runner.run()
        finally:
            self.scheduler.stop()
            self.scheduler.join(60)
            self.history.close()

    def stop(self) -> None:
        self.scheduler.stop()
        self.runner.stop()


def train_router(settings: Settings, scheduler: TrainingScheduler) -> APIRouter:
    router = APIRouter(tags=["training"])
    guard = token_guard(settings.control_token)

    @router.post(
        "/train",
        status_code=202,
        dependencies=[Depends(guard)],
        summary="Train now (every series, or those named); promotions publish model_updates",
    )
    def post_train(body: dict[str, Any] | None = Body(None)) -> dict[str, Any]:  # noqa: B008
        series = (body or {}).get("series")
        if series is not None and (
            not isinstance(series, list) or not all(isinstance(s, str) for s in series)
        ):
            raise HTTPException(400, 'series must be a list of ids, e.g. ["ALL/SYSTEM_DEMAND"]')
        try:
            accepted = scheduler.request(series)
        except GridstreamError as exc:
            raise HTTPException(400, str(exc)) from exc
        return {"accepted": accepted}

    @router.get("/train/status", summary="Current models, the run in progress, recent runs")
    def get_status() -> dict[str, Any]:
        return scheduler.status()

    return router


def trainer_parts(
    settings: Settings, config: TrainerSettings | None = None, group: str | None = None
) -> tuple[ServiceParts, TrainerProcessor, TrainingScheduler]:
    """The service's parts (tests pass a small ``config`` and their own ``group``)."""
    # before lightgbm is imported: its idle OpenMP threads sleep instead of spinning on the
    # cores the pipeline shares; training takes about twice as long (the all-island demand
    # models: 77 s instead of 40 s), which a daily background job can afford. The `train` and
    # `backtest` commands keep OpenMP's default and run at full speed.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = config or TrainerSettings()
    history = SharedHistory(settings.history_store)
    processor = TrainerProcessor(settings, history)
    registry = ModelRegistry(settings.state_dir / "models")
    scheduler = TrainingScheduler(history, registry, config, processor.updates.put)
    runner = make_runner(settings, SERVICE, processor, group=group)
    parts = ServiceParts(
        name=SERVICE,
        worker=TrainerWorker(runner, scheduler, history),
        health=runner.health.snapshot,
        registry=runner.registry,
        routers=[train_router(settings, scheduler)],
    )
    return parts, processor, scheduler


def build(settings: Settings) -> ServiceParts:
    return trainer_parts(settings)[0]
