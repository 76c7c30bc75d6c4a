"""smart-ingestor: EirGrid data in (live, backfill, replay, simulate), ``RawReading`` out.

A source, not a consume-process-produce service: :class:`Ingestor` is the worker the service
host runs. It waits for a job (started by the ``GRIDSTREAM_INGEST_SOURCE`` setting or over
HTTP), runs it through the transactional :class:`IngestSink` and reports status and health.
Long-running jobs (live, clock-following simulation) are restarted with backoff after a
failure; bounded ones (backfill, replay) end in ``failed`` with the error in ``/status``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gridstream.bus.health import RunnerHealth
from gridstream.bus.topics import topic_specs
from gridstream.config import Settings
from gridstream.services.host import ServiceParts
from gridstream.services.ingestor.jobs import (
    BackfillJob,
    Job,
    JobConflict,
    LiveJob,
    ReplayJob,
    SimulateJob,
    describe,
    replay_job,
)
from gridstream.services.ingestor.runs import (
    SERVICE,
    Progress,
    RunContext,
    run_backfill,
    run_live,
    run_replay,
    run_simulate,
)
from gridstream.services.ingestor.settings import IngestSettings
from gridstream.services.ingestor.sink import IngestSink
from gridstream.sources.client import EirGridClient

log = logging.getLogger(__name__)


class Ingestor:
    """The ingestor worker: ``run()`` in a thread, ``submit()``/``stop_job()`` from HTTP."""

    def __init__(
        self,
        settings: Settings,
        ingest: IngestSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        client_factory: Callable[[], EirGridClient] | None = None,
    ) -> None:
        self.settings = settings
        self.ingest = ingest or IngestSettings()
        self.clock = clock
        self.client_factory = client_factory
        api_worst = self.ingest.api_timeout_s * (self.ingest.api_max_retries + 1) * 2
        self.health = RunnerHealth(stall_after_s=max(60.0, api_worst + 60.0))
        self.registry = CollectorRegistry()
        self._records_out = Counter(
            "gridstream_records_out_total",
            "Records produced",
            ["service", "topic"],
            registry=self.registry,
        )
        self._open_gaps = Gauge(
            "gridstream_ingest_open_gaps",
            "Area/region spans the API has not delivered yet",
            ["service"],
            registry=self.registry,
        )
        wanted = {settings.topics.raw, settings.topics.system_events}
        specs = [
            s
            for s in topic_specs(
                settings.topics, settings.topic_partitions, settings.topic_replication
            )
            if s.name in wanted
        ]
        self.sink = IngestSink(
            settings.kafka(client_id=SERVICE),
            settings.topics.raw,
            settings.topics.system_events,
            transactional_id=f"gridstream-{SERVICE}-{settings.topics.raw}-{settings.instance_id}",
            topic_specs=specs,
            replication=settings.topic_replication,
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._pending: Job | None = None
        self._current: Job | None = None
        self._cancel = threading.Event()
        self._open_gap_book: dict[str, dict[str, str]] = {}
        self._status: dict[str, Any] = {
            "state": "idle",
            "mode": None,
            "job": None,
            "records_sent": 0,
            "job_records_sent": 0,
            "data_time": None,
            "last_error": None,
            "started_at": None,
            "finished_at": None,
        }

    # ---- control (any thread) --------------------------------------------------------------
    def submit(self, job: Job, replace: bool = False) -> None:
        with self._lock:
            busy = self._current is not None or self._pending is not None
            if busy and not replace:
                raise JobConflict(
                    f"a {self._status['mode'] or 'pending'} job is running: POST /stop first"
                )
            if busy:
                self._cancel.set()
            self._pending = job
            self._wakeup.set()

    def stop_job(self) -> bool:
        """Cancel the running (or pending) job; False when there was none."""
        with self._lock:
            had = self._current is not None or self._pending is not None
            self._pending = None
            self._cancel.set()
            return had

    def stop(self) -> None:
        self._stop.set()
        self._cancel.set()
        self._wakeup.set()

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or self._pending is not None

    def status(self) -> dict[str, Any]:
        with self._lock:
            out = dict(self._status)
            out["open_gaps"] = list(self._open_gap_book.values())
            scope = self._current.scope if self._current else (out["job"] or {}).get("scope")
        marks = self.sink.scopes().get(scope, {}) if scope else {}
        out["watermarks"] = {
            s: {"ts_ms": ms, "utc": datetime.fromtimestamp(ms / 1000, UTC).isoformat()}
            for s, ms in sorted(marks.items())
        }
        return out

    # ---- the worker loop -------------------------------------------------------------------
    def open(self) -> None:
        """Connect to Kafka (raises on failure): topics, transactions, watermarks."""
        self.sink.open()
        self.health.set_connected(True)
        self.health.set_assigned(1)

    def _open_with_retries(self) -> bool:
        delay = 1.0
        while not self._stop.is_set():
            try:
                self.open()
                return True
            except Exception as exc:  # broker not up yet: keep trying, stay not-ready
                self.health.set_connected(False, str(exc))
                log.warning("ingestor waiting for Kafka (retry in %.0fs): %s", delay, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
        return False

    def run(self) -> None:
        self.health.started()
        if not self._open_with_retries():
            self.health.stopped("stopped before Kafka was reachable")
            return
        try:
            job = self.autostart_job()
            if job is not None:
                self.submit(job)
            while not self._stop.is_set():
                self.health.loop()
                self._wakeup.wait(1.0)
                with self._lock:
                    job, self._pending = self._pending, None
                    self._wakeup.clear()
                if job is not None:
                    self._supervise(job)
        finally:
            self.sink.close()
            self.health.stopped()

    def _supervise(self, job: Job) -> None:
        """Run ``job``; restart long-running ones after failures until cancelled."""
        delay = 1.0
        while True:
            try:
                self.execute(job)
                return
            except Exception as exc:
                long_running = isinstance(job, LiveJob) or (
                    isinstance(job, SimulateJob) and job.end is None
                )
                if not long_running or self._stop.is_set() or self.busy():
                    return
                log.warning("%s job failed (%s); restarting in %.0fs", job.mode, exc, delay)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 60.0)
                if not self._open_with_retries():
                    return

    def execute(
        self,
        job: Job,
        progress: Progress | None = None,
        step: Callable[[str], None] | None = None,
    ) -> int:
        """Run one job to its end (or cancellation) in this thread; returns readings sent."""
        with self._lock:
            self._current = job
            self._cancel = threading.Event()
            self._status.update(
                state="running",
                mode=job.mode,
                job=describe(job),
                job_records_sent=0,
                last_error=None,
                started_at=datetime.now(UTC).isoformat(),
                finished_at=None,
            )
        ctx = RunContext(
            sink=self.sink,
            ingest=self.ingest,
            cancel=self._cancel,
            clock=self.clock,
            tick=self.health.loop,
            progress=self._progress_hook(progress),
            client_factory=self.client_factory,
            open_gaps=self._open_gap_book,
            gap_lock=self._lock,
        )
        if step is not None:
            ctx.step = step
        state = "finished"
        try:
            return self._dispatch(ctx, job)
        except Exception as exc:
            state = "failed"
            with self._lock:
                self._status["last_error"] = f"{type(exc).__name__}: {exc}"
            log.exception("%s job failed", job.mode)
            self._reopen()
            raise
        finally:
            with self._lock:
                cancelled = self._cancel.is_set()
                self._current = None
                self._status.update(
                    state="stopped" if cancelled and state == "finished" else state,
                    finished_at=datetime.now(UTC).isoformat(),
                )

    def _dispatch(self, ctx: RunContext, job: Job) -> int:
        if isinstance(job, ReplayJob):
            return run_replay(ctx, job)
        if isinstance(job, SimulateJob):
            return run_simulate(ctx, job)
        if isinstance(job, BackfillJob):
            return run_backfill(ctx, job)
        return run_live(ctx, job)

    def _reopen(self) -> None:
        """A failed transaction may leave the producer unusable: rebuild it (fences itself)."""
        try:
            self.sink.close()
            self.open()
        except Exception as exc:
            self.health.set_connected(False, str(exc))

    def _progress_hook(self, outer: Progress | None) -> Progress:
        def hook(sent: int, ts_ms: int | None) -> None:
            with self._lock:
                delta = sent - self._status["job_records_sent"]
                self._status["job_records_sent"] = sent
                self._status["records_sent"] += delta
                if ts_ms is not None:
                    self._status["data_time"] = datetime.fromtimestamp(
                        ts_ms / 1000, UTC
                    ).isoformat()
                self._open_gaps.labels(SERVICE).set(len(self._open_gap_book))
            self._records_out.labels(SERVICE, self.settings.topics.raw).inc(max(0, delta))
            if outer is not None:
                outer(sent, ts_ms)

        return hook

    # ---- what to do at start-up -----------------------------------------------------------
    def autostart_job(self) -> Job | None:
        ing = self.ingest
        source = ing.source
        if source == "auto":
            source = (
                "replay" if ing.replay_path else ("live" if self._api_answers() else "simulate")
            )
            log.info("GRIDSTREAM_INGEST_SOURCE=auto chose %s", source)
        if source == "idle":
            return None
        if source == "replay":
            return replay_job(ing)
        if source == "simulate":
            start = datetime.fromtimestamp(self.clock(), UTC) - timedelta(days=1)
            return SimulateJob(
                ing.seed, start.replace(minute=0, second=0, microsecond=0), None, ing.speed
            )
        return LiveJob(ing.poll_seconds, ing.lookback_hours, ing.regions, ing.areas)

    def _api_answers(self) -> bool:
        import httpx

        try:
            httpx.get(self.ingest.api_base_url, timeout=5.0)
        except httpx.HTTPError as exc:
            log.warning("EirGrid API unreachable (%s): simulating instead", exc)
            return False
        return True


def build(settings: Settings) -> ServiceParts:
    from gridstream.services.ingestor.api import ingest_router

    ingest = IngestSettings()
    ingestor = Ingestor(settings, ingest)
    return ServiceParts(
        name=SERVICE,
        worker=ingestor,
        health=ingestor.health.snapshot,
        registry=ingestor.registry,
        routers=[ingest_router(ingestor, settings, ingest)],
    )
