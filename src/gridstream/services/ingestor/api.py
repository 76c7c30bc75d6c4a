"""HTTP control of smart-ingestor: ``GET/POST /stream``, ``POST /stop``, ``GET /status``.

``POST /stream`` and ``POST /stop`` change what the system ingests, so they need the control
token. ``GET /stream`` is kept for the original system's ``curl http://localhost:5100/stream``:
it only starts *live* ingestion and only when nothing is running (it never stops or replaces a
job), so it is open by default; ``GRIDSTREAM_INGEST_OPEN_GET_STREAM=false`` puts it behind the
token as well. ``GET /status`` is read-only and open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import JSONResponse

from gridstream.config import Settings
from gridstream.errors import ConfigError
from gridstream.http.auth import token_guard
from gridstream.services.ingestor.jobs import (
    Job,
    JobConflict,
    LiveJob,
    StreamRequest,
    describe,
    job_from_request,
)
from gridstream.services.ingestor.settings import IngestSettings


class JobControl(Protocol):
    """What the router needs of the ingestor: submit, stop and report jobs."""

    def submit(self, job: Job, replace: bool = False) -> None: ...

    def stop_job(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...


def ingest_router(ingestor: JobControl, settings: Settings, ingest: IngestSettings) -> APIRouter:
    guard = Depends(token_guard(settings.control_token))
    router = APIRouter(tags=["ingest"])
    open_get = [] if ingest.open_get_stream else [guard]

    @router.get(
        "/stream",
        dependencies=open_get,
        summary="Start live ingestion if nothing runs (compatibility with the original system)",
    )
    def get_stream() -> JSONResponse:
        job = LiveJob(ingest.poll_seconds, ingest.lookback_hours, ingest.regions, ingest.areas)
        try:
            ingestor.submit(job)
        except JobConflict:
            return JSONResponse({"started": False, "status": ingestor.status()})
        return JSONResponse({"started": True, "job": describe(job)}, status_code=202)

    @router.post(
        "/stream",
        dependencies=[guard],
        summary="Start ingestion in a mode: live, backfill, replay or simulate",
    )
    def post_stream(request: StreamRequest, replace: bool = False) -> JSONResponse:
        now = datetime.now(UTC)
        try:
            job = job_from_request(request, ingest, settings.data_dir, now)
            ingestor.submit(job, replace=replace)
        except ConfigError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        except JobConflict as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        return JSONResponse({"started": True, "job": describe(job)}, status_code=202)

    @router.post("/stop", dependencies=[guard], summary="Stop the running ingestion job")
    def post_stop() -> dict[str, Any]:
        return {"stopped": ingestor.stop_job(), "status": ingestor.status()}

    @router.get("/status", summary="Mode, per-series watermark, records sent, last error")
    def get_status() -> dict[str, Any]:
        return ingestor.status()

    return router
