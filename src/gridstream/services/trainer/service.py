"""smart-model-trainer: ``preprocessed_data`` -> history store; decides and trains in event
time; ``model_updates``.

* The Kafka loop writes every clean reading it accepts to the history store (see
  :mod:`gridstream.services.trainer.history`) and keeps each input series' watermark in keyed
  state (changelog, exactly once).
* At the end of each batch, in its transaction, it decides every checkpoint whose inputs are
  complete (or past the grace), in order per series, training where one is due (see
  :mod:`gridstream.services.trainer.decisions`), and publishes one ``ModelUpdate`` per series
  and checkpoint (keyed by series id). The job ledger (last checkpoint decided, model in
  force) is keyed state committed with it: a restart resumes after the last committed
  decision, so it neither retrains nor republishes a checkpoint. A batch trains for at most
  ``train_budget_s`` wall seconds; what is left is decided in the next batches (that moves
  when a decision is published, never what it says).

HTTP: ``POST /train`` (bearer token; body ``{"series": ["ALL/SYSTEM_DEMAND"]}`` or empty for
every series) -> 202: the NEXT checkpoint decided for each series retrains (``manual``). The
request is recorded in the series' ledger in the loop's next transaction; one made just
before a crash, before that transaction commits, is lost and must be repeated.
``GET /train/status`` — the model in force and the last decision per series, requests
waiting.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, HTTPException
from google.protobuf.message import Message
from prometheus_client import Gauge

from gridstream.bus.alignment import STEP_DRIFT_MS, ts_of
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateCodec, StateView
from gridstream.config import Settings
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.errors import GridstreamError, ValidationError
from gridstream.http.auth import token_guard
from gridstream.schemas import readings_pb2
from gridstream.services.base import make_runner
from gridstream.services.host import ServiceParts
from gridstream.services.memory import release_free_memory
from gridstream.services.trainer import ledger as keyed
from gridstream.services.trainer.decisions import Decider
from gridstream.services.trainer.history import SharedHistory
from gridstream.services.trainer.jobs import TrainerSettings, series_id, short_name
from gridstream.services.trainer.ledger import Ledger, State, Watermark
from gridstream.store.registry import ModelRegistry

SERVICE = "smart-model-trainer"
log = logging.getLogger(__name__)


class TrainerProcessor(Processor[State]):
    align_drift_ms = STEP_DRIFT_MS
    state_codec: StateCodec[State] = keyed.STATE_CODEC
    punctuate_interval_s = 0.0  # write the batch's readings and decide, per batch
    batch_linger_s = 2.0  # not on any latency path: one history write per 2 s at a live rate

    def __init__(
        self,
        settings: Settings,
        history: SharedHistory,
        config: TrainerSettings,
        registry: ModelRegistry,
    ) -> None:
        self.topics = settings.topics
        self.history = history
        self.config = config
        self.decider = Decider(config, registry, history.read)
        self.targets = sorted(series_id(r, n) for r, n in config.targets())
        self._rows: list[tuple[int, str, str, float]] = []
        self._marks: dict[str, Watermark] = {}
        self._home: dict[str, int] = {}  # series -> the partition of its readings and state
        self._indexed: set[int] = set()
        self._requests: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self.requested: set[str] = set()
        self.ledgers: dict[str, Ledger] = {}
        self.recent: list[dict[str, Any]] = []
        self.ignored_late = 0
        #: process CPU seconds spent deciding (drift checks, trainings, validations): model
        #: work per checkpoint, not per reading (``gridstream bench`` reports it apart)
        self.model_cpu_s = 0.0

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        return {self.topics.preprocessed: ts_of}  # read the series' partitions in step

    def inputs(self) -> Mapping[str, type[Message]]:
        return {self.topics.preprocessed: readings_pb2.CleanReading}

    # ---- readings --------------------------------------------------------------------------
    def process(self, record: InRecord, state: StateView[State]) -> Iterable[OutRecord]:
        clean = record.value
        assert isinstance(clean, readings_pb2.CleanReading)
        if not clean.region or not clean.field:
            raise ValidationError(f"clean reading without region/field: {clean.record_id!r}")
        if not MIN_TS_MS <= clean.ts_ms < MAX_TS_MS or not math.isfinite(clean.value):
            raise ValidationError(f"{clean.record_id}: bad ts {clean.ts_ms} or value")
        sid = f"{clean.region}/{clean.field}"
        key = keyed.mark_key(sid)
        found = state.get(key)
        mark = found if isinstance(found, Watermark) else None
        if not self.decider.accepts(mark, clean.ts_ms):
            self.ignored_late += 1  # its checkpoint may be decided: the data is closed
            return []
        self._rows.append((clean.ts_ms, clean.region, clean.field, clean.value))
        if mark is None:
            mark = Watermark(clean.ts_ms, clean.ts_ms)
        else:
            mark = Watermark(min(mark.first_ms, clean.ts_ms), max(mark.latest_ms, clean.ts_ms))
        state.put(key, mark)
        self._marks[sid] = mark
        self._home[sid] = state.partition
        return []

    def _write_rows(self) -> None:
        if not self._rows:
            return
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

    def _index(self, states: Mapping[int, StateView[State]]) -> None:
        """Watermarks and ledgers of partitions restored since the last batch."""
        for partition, state in states.items():
            if partition in self._indexed:
                continue
            self._indexed.add(partition)
            for key in list(state.keys()):
                value = state.get(key)
                sid = key.partition("|")[2]
                if isinstance(value, Watermark):
                    self._marks[sid] = value
                    self._home[sid] = partition
                elif isinstance(value, Ledger):
                    self.ledgers[sid] = value

    # ---- decisions -------------------------------------------------------------------------
    def punctuate(self, now_ms: int, states: Mapping[int, StateView[State]]) -> Iterable[OutRecord]:
        self._write_rows()
        self._index(states)
        self._take_requests(states)
        if not self._marks:
            return []
        frontier = max(m.latest_ms for m in self._marks.values())
        started = time.monotonic()
        out: list[OutRecord] = []
        trained = False
        for sid in self.targets:
            state = states.get(self._home.get(sid, -1))
            if state is None:
                continue  # no reading of the series itself yet (or another instance's)
            while time.monotonic() - started < self.config.train_budget_s:
                found = state.get(keyed.job_key(sid))
                current = found if isinstance(found, Ledger) else None
                due = self.decider.due(sid, current, self._marks, frontier)
                if due is None:
                    break
                cpu = time.process_time()
                decision = self.decider.decide(sid, due[0], current, due[1])
                self.model_cpu_s += time.process_time() - cpu
                state.put(keyed.job_key(sid), decision.ledger)
                self.ledgers[sid] = decision.ledger
                out.append(OutRecord(self.topics.model_updates, sid, decision.update))
                trained = trained or decision.trained
                self._note(decision.update)
        if trained:
            release_free_memory()  # the runs' arrays are gone: do not sit on their pages
        return out

    def _note(self, update: Any) -> None:
        entry = {
            "series_id": update.series_id,
            "checkpoint_ms": update.train_until_ms,
            "reason": update.reason,
            "version": update.model_version,
            "missing_inputs": list(update.missing_inputs),
        }
        if update.missing_inputs:
            log.warning(
                "%s at %d decided without %s (not there %s h of data after the checkpoint)",
                update.series_id,
                update.train_until_ms,
                ", ".join(update.missing_inputs),
                f"{self.config.grace_hours:g}",
            )
        if update.reason != "keep":
            log.info(
                "%s at %d: %s %s",
                update.series_id,
                update.train_until_ms,
                update.reason,
                update.model_version or "(no model)",
            )
        with self._lock:
            self.recent = [*self.recent[-19:], entry]

    # ---- manual requests -------------------------------------------------------------------
    def request(self, series: list[str] | None) -> list[str]:
        """Ask for a retrain of ``series`` (default: all) at its next checkpoint."""
        chosen = series or list(self.targets)
        for sid in chosen:
            short_name(sid)  # raises for a series the trainer does not model
            if sid not in self.targets:
                raise GridstreamError(f"{sid!r} is not trained here; use one of {self.targets}")
        for sid in chosen:
            self._requests.put(sid)
        with self._lock:
            self.requested.update(chosen)
        return chosen

    def _take_requests(self, states: Mapping[int, StateView[State]]) -> None:
        while True:
            try:
                sid = self._requests.get_nowait()
            except queue.Empty:
                break
            state = states.get(self._home.get(sid, -1))
            found = state.get(keyed.job_key(sid)) if state is not None else None
            if state is None or not isinstance(found, Ledger):
                self._requests.put(sid)  # no decision yet: its first one trains anyway
                break
            found.manual = True
            state.put(keyed.job_key(sid), found)
            with self._lock:
                self.requested.discard(sid)

    def status(self) -> dict[str, Any]:
        with self._lock:
            recent, requested = list(self.recent), sorted(self.requested)
        return {
            "models": {
                sid: (self.ledgers[sid].version if sid in self.ledgers else None)
                for sid in self.targets
            },
            "decided_until_ms": {sid: ledger.decided_ms for sid, ledger in self.ledgers.items()},
            "requested": requested,
            "recent_decisions": recent,
            "ignored_late_readings": self.ignored_late,
        }

    def on_revoked(self, partitions: list[int]) -> None:
        self._rows.clear()  # not committed: the next owner re-reads them
        gone = set(partitions)
        self._indexed -= gone
        for sid in [s for s, p in self._home.items() if p in gone]:
            del self._home[sid]
            self._marks.pop(sid, None)
            self.ledgers.pop(sid, None)


class TrainerWorker:
    """The Kafka loop; the history store is closed when it stops."""

    def __init__(self, runner: Runner[State], history: SharedHistory) -> None:
        self.runner = runner
        self.history = history

    def run(self) -> None:
        try:
            self.runner.run()
        finally:
            self.history.close()

    def stop(self) -> None:
        self.runner.stop()


def train_router(settings: Settings, processor: TrainerProcessor) -> APIRouter:
    router = APIRouter(tags=["training"])
    guard = token_guard(settings.control_token)

    @router.post(
        "/train",
        status_code=202,
        dependencies=[Depends(guard)],
        summary="Retrain every series (or those named) at its next checkpoint",
    )
    def post_train(body: dict[str, Any] | None = Body(None)) -> dict[str, Any]:  # noqa: B008
        series = (body or {}).get("series")
        if series is not None and (
            not isinstance(series, list) or not all(isinstance(s, str) for s in series)
        ):
            raise HTTPException(400, 'series must be a list of ids, e.g. ["ALL/SYSTEM_DEMAND"]')
        try:
            accepted = processor.request(series)
        except GridstreamError as exc:
            raise HTTPException(400, str(exc)) from exc
        return {"accepted": accepted}

    @router.get("/train/status", summary="Models in force, recent decisions, requests")
    def get_status() -> dict[str, Any]:
        return processor.status()

    return router


def trainer_parts(
    settings: Settings, config: TrainerSettings | None = None, group: str | None = None
) -> tuple[ServiceParts, TrainerProcessor]:
    """The service's parts (tests pass a small ``config`` and their own ``group``)."""
    # before lightgbm is imported: its idle OpenMP threads sleep instead of spinning on the
    # cores the pipeline shares. The `train` and `backtest` commands keep OpenMP's default.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = config or TrainerSettings()
    history = SharedHistory(settings.history_store)
    registry = ModelRegistry(settings.state_dir / "models")
    processor = TrainerProcessor(settings, history, config, registry)
    runner = make_runner(settings, SERVICE, processor, group=group)
    Gauge(
        "gridstream_trainer_model_cpu_seconds",
        "CPU seconds spent on model decisions since start (drift checks, trainings)",
        registry=runner.registry,
    ).set_function(lambda: processor.model_cpu_s)
    parts = ServiceParts(
        name=SERVICE,
        worker=TrainerWorker(runner, history),
        health=runner.health.snapshot,
        registry=runner.registry,
        routers=[train_router(settings, processor)],
    )
    return parts, processor


def build(settings: Settings) -> ServiceParts:
    return trainer_parts(settings)[0]
