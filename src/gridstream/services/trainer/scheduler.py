"""The trainer's background thread and the history store it shares with the Kafka loop.

Training never runs on the Kafka loop: :class:`TrainingScheduler` wakes every
``check_interval_s`` (or at once on ``POST /train``), decides per series what to train
(:mod:`gridstream.services.trainer.jobs`), trains, and hands each promotion's
``ModelUpdate`` to ``publish`` (the service queues it for the loop, which produces it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from gridstream.core.features import SERIES_FIELDS
from gridstream.schemas import model_pb2
from gridstream.services.memory import release_free_memory
from gridstream.services.trainer.jobs import (
    TrainerSettings,
    decide,
    elapsed,
    model_update,
    progress_bar,
    run_training,
    series_id,
    short_name,
)
from gridstream.store.history import HistoryStore
from gridstream.store.registry import ModelRegistry

log = logging.getLogger(__name__)
_FIELDS = list(SERIES_FIELDS.values())


class SharedHistory:
    """The DuckDB history store behind a lock (the loop writes, the trainer reads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self._store: HistoryStore | None = None
        self._latest: dict[str, int] = {}

    def _db(self) -> HistoryStore:
        if self._store is None:
            self._store = HistoryStore(self.path)
        return self._store

    def upsert(self, frame: pd.DataFrame) -> int:
        with self.lock:
            written = self._db().upsert_frame(frame)
        ms = pd.DatetimeIndex(frame["ts"]).as_unit("ms").asi8
        for region, latest in pd.Series(ms).groupby(frame["region"].to_numpy()).max().items():
            self._latest[str(region)] = max(int(latest), self._latest.get(str(region), 0))
        return written

    def latest_ms(self, region: str) -> int | None:
        if region not in self._latest:
            with self.lock:
                latest = self._db().latest_ms(region, _FIELDS)
            if latest is None:
                return None
            self._latest[region] = latest
        return self._latest[region]

    def read(self, region: str, since_ms: int | None) -> pd.DataFrame:
        since = None if since_ms is None else pd.Timestamp(since_ms, unit="ms", tz="UTC")
        with self.lock:
            return self._db().read_frame(regions=[region], fields=_FIELDS, since=since)

    def count(self) -> int:
        with self.lock:
            return self._db().count()

    def close(self) -> None:
        with self.lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class TrainingScheduler:
    """Decides and runs training in its own thread; see trainer_jobs for the rules."""

    def __init__(
        self,
        history: SharedHistory,
        registry: ModelRegistry,
        config: TrainerSettings,
        publish: Callable[[model_pb2.ModelUpdate], None],
    ) -> None:
        self.history = history
        self.registry = registry
        self.config = config
        self.publish = publish
        self.targets = config.targets()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._requested: set[str] = set()
        self._last_run: dict[str, float] = {}
        self._last_drift_check: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self.running: str | None = None
        self.runs: list[dict[str, Any]] = []

    # ---- control -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="trainer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def request(self, series: list[str] | None) -> list[str]:
        """Ask for a manual run of ``series`` (default: all); returns the accepted ids."""
        known = [series_id(r, n) for r, n in self.targets]
        chosen = series or known
        for sid in chosen:
            short_name(sid)  # raises for a series the trainer does not model
        with self._lock:
            self._requested.update(chosen)
        self._wake.set()
        return chosen

    def status(self) -> dict[str, Any]:
        with self._lock:
            runs = list(self.runs[-20:])
            pending = sorted(self._requested)
        return {
            "running": self.running,
            "requested": pending,
            "models": {
                series_id(r, n): self.registry.current(series_id(r, n)) for r, n in self.targets
            },
            "recent_runs": runs,
        }

    # ---- the loop ------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep the thread alive; the next tick retries
                log.exception("training check failed")
            self._wake.wait(self.config.check_interval_s)
            self._wake.clear()

    def tick(self) -> int:
        """One check: decide, train, publish promotions. Returns the number of runs."""
        with self._lock:
            manual = set(self._requested)
            self._requested.clear()
        plans = self._plans(manual)
        if not plans:
            return 0
        started = time.monotonic()
        log.info("training %d model(s): %s", len(plans), ", ".join(f"{s} ({r})" for s, r in plans))
        for done, (sid, reason) in enumerate(plans, start=1):
            if self._stop.is_set():
                break
            self._run(sid, reason)
            log.info(
                "training %s %s (%.1f s)", progress_bar(done, len(plans)), sid, elapsed(started)
            )
        return len(plans)

    def _plans(self, manual: set[str]) -> list[tuple[str, str]]:
        now = time.monotonic()
        plans: list[tuple[str, str]] = []
        window_ms = (self.config.bootstrap_weeks + 2) * 7 * 86_400_000
        frames: dict[str, pd.DataFrame] = {}
        for region, name in self.targets:
            sid = series_id(region, name)
            if sid in manual:
                plans.append((sid, "manual"))
                continue
            last = self._last_run.get(sid)
            if last is not None and now - last < self.config.min_retrain_gap_s:
                continue
            latest = self.history.latest_ms(region)
            if latest is None:
                continue
            if region not in frames:
                frames[region] = self.history.read(region, latest - window_ms)
            drift_due = now - self._last_drift_check.get(sid, -1e18) >= max(
                self.config.check_interval_s, 900.0
            )
            if drift_due:
                self._last_drift_check[sid] = now
            reason = decide(frames[region], region, name, self.registry, self.config, drift_due)
            if reason is not None:
                plans.append((sid, reason))
        return plans

    def _run(self, sid: str, reason: str) -> None:
        region, name = short_name(sid)
        self.running = sid
        self._last_run[sid] = time.monotonic()
        started = time.monotonic()
        entry: dict[str, Any] = {"series_id": sid, "reason": reason, "started_ms": _now_ms()}
        try:
            latest = self.history.latest_ms(region)
            if latest is None:
                entry["result"] = "no history"
                return
            weeks = (
                self.config.bootstrap_weeks if reason == "bootstrap" else self.config.train_weeks
            )
            since = latest - (weeks + 2) * 7 * 86_400_000
            # the readings are passed, not kept: run_training drops them once featurised
            outcome = run_training(
                self.history.read(region, since), region, name, reason, self.registry, self.config
            )
            if outcome is None:
                entry["result"] = "not enough history"
                return
            entry.update(
                version=outcome.version,
                promoted=outcome.promoted,
                decision=outcome.reason,
                validation_pinball=outcome.metrics.get("validation_pinball"),
            )
            if outcome.promoted:
                self.publish(model_update(outcome, self.registry))
            entry["result"] = "promoted" if outcome.promoted else "kept incumbent"
        except Exception as exc:
            log.exception("training %s failed", sid)
            entry["result"] = f"failed: {exc}"
        finally:
            entry["seconds"] = elapsed(started)
            release_free_memory()  # the run's arrays are gone: do not sit on their pages
            self.running = None
            with self._lock:
                self.runs.append(entry)
            log.info("%s %s: %s in %.1f s", sid, reason, entry.get("result"), entry["seconds"])


def _now_ms() -> int:
    return int(time.time() * 1000)
