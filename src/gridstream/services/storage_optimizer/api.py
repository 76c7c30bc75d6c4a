"""HTTP views of the storage optimiser: the latest schedule per region as JSON and as PNG."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from gridstream.core.storage import HorizonForecast, ScheduleResult


@dataclass(frozen=True)
class PublishedPlan:
    schedule_id: str
    issue_time_ms: int
    result: ScheduleResult
    forecast: HorizonForecast | None


class ScheduleBoard:
    """The latest published plan per region, shared by the worker thread and HTTP threads."""

    def __init__(self, regions: Iterable[str]) -> None:
        self.regions = tuple(regions)
        self._lock = threading.Lock()
        self._plans: dict[str, PublishedPlan] = {}
        self._png: dict[str, tuple[str, bytes]] = {}

    def put(self, plan: PublishedPlan) -> None:
        with self._lock:
            current = self._plans.get(plan.result.region)
            if current is None or current.issue_time_ms <= plan.issue_time_ms:
                self._plans[plan.result.region] = plan

    def get(self, region: str) -> PublishedPlan | None:
        with self._lock:
            return self._plans.get(region)

    def png(self, region: str) -> bytes | None:
        """The plan as PNG, rendered once per schedule."""
        from gridstream.core.storage.render import render_schedule_png

        plan = self.get(region)
        if plan is None:
            return None
        with self._lock:
            cached = self._png.get(region)
        if cached is not None and cached[0] == plan.schedule_id:
            return cached[1]
        data = render_schedule_png(plan.result, plan.forecast)
        with self._lock:
            self._png[region] = (plan.schedule_id, data)
        return data


def _plan_or_error(board: ScheduleBoard, region: str) -> PublishedPlan:
    if region not in board.regions:
        known = ", ".join(board.regions)
        raise HTTPException(400, f"no battery fleet configured for region {region!r}: use {known}")
    plan = board.get(region)
    if plan is None:
        raise HTTPException(
            404,
            f"no schedule for {region} yet: one is published when a complete set of forecasts "
            "for the region has arrived on forecast_output",
        )
    return plan


def schedule_router(board: ScheduleBoard) -> APIRouter:
    router = APIRouter(tags=["storage"])

    @router.get("/schedule", summary="The latest storage schedule of a region (JSON)")
    def get_schedule(region: str = Query("ALL", description="ALL, ROI or NI")) -> dict[str, object]:
        plan = _plan_or_error(board, region)
        return {
            "schedule_id": plan.schedule_id,
            "issue_time_ms": plan.issue_time_ms,
            **plan.result.to_dict(),
        }

    @router.get(
        "/schedule.png",
        summary="The latest storage schedule of a region (PNG chart for the dashboard)",
        response_class=Response,
    )
    def get_schedule_png(region: str = Query("ALL", description="ALL, ROI or NI")) -> Response:
        _plan_or_error(board, region)
        data = board.png(region)
        if data is None:
            raise HTTPException(404, f"no schedule for {region} yet")
        return Response(data, media_type="image/png", headers={"Cache-Control": "no-cache"})

    return router
