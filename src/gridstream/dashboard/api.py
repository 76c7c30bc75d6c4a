"""The page, its static files, the state snapshot and the live stream (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse

from gridstream.dashboard.snapshot_cache import SnapshotCache
from gridstream.dashboard.state import DashboardState

STREAM_TICK_S = 0.5
KEEPALIVE_S = 15.0
REGIONS = ("ALL", "ROI", "NI")


def static_dir() -> Path:
    return Path(str(resources.files("gridstream.dashboard").joinpath("static")))


def page_router(state: DashboardState) -> APIRouter:
    router = APIRouter(tags=["dashboard"])
    root = static_dir()
    snapshots = SnapshotCache(state)

    @router.get("/", response_class=HTMLResponse, summary="The dashboard page")
    def index() -> HTMLResponse:
        return HTMLResponse(
            (root / "index.html").read_text(), headers={"Cache-Control": "no-cache"}
        )

    @router.get("/static/{path:path}", summary="Static files of the page (no CDN)")
    def static(path: str) -> FileResponse:
        target = (root / path).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            raise HTTPException(404, f"no static file {path!r}")
        return FileResponse(target, headers={"Cache-Control": "public, max-age=300"})

    @router.get("/api/snapshot", summary="Everything the page draws, for one region and range")
    def snapshot(
        region: str | None = Query(None, description="ALL, ROI or NI; all regions if absent"),
        hours: float | None = Query(None, gt=0, le=24 * 90, description="data-time range"),
    ) -> Response:
        if region is not None and region not in REGIONS:
            raise HTTPException(
                422, f"unknown region {region!r}: choose one of {', '.join(REGIONS)}"
            )
        return Response(snapshots.body(region, hours), media_type="application/json")

    @router.get("/api/stream", summary="Server-sent events: what changed since `since`")
    async def stream(request: Request, since: int = Query(0, ge=0)) -> StreamingResponse:
        return StreamingResponse(
            _events(request, state, since),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


async def _events(request: Request, state: DashboardState, since: int) -> AsyncIterator[str]:
    seq = since
    idle = 0.0
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        result = state.deltas_since(seq)
        if result is None:
            seq = state.seq
            yield f"event: reset\ndata: {json.dumps({'seq': seq})}\n\n"
        else:
            latest, deltas = result
            if deltas:
                seq = latest
                body = json.dumps({"seq": seq, "deltas": deltas}, separators=(",", ":"))
                yield f"event: delta\ndata: {body}\n\n"
                idle = 0.0
        if idle >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            idle = 0.0
        await asyncio.sleep(STREAM_TICK_S)
        idle += STREAM_TICK_S
