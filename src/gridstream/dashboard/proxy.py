"""Operator controls, proxied so the browser talks only to the dashboard's port.

The user's bearer token is forwarded unchanged; the rebalancer and the alert engine check it
(the dashboard holds no token of its own and cannot approve anything by itself).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gridstream.dashboard.settings import DashboardSettings

REBALANCER = "smart-grid-rebalancer"
ALERT_ENGINE = "smart-alert-engine"


def control_router(options: DashboardSettings) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["controls"])

    async def forward(request: Request, service: str, path: str) -> Response:
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        auth = request.headers.get("authorization")
        if auth:
            headers["authorization"] = auth
        body = await request.body()
        url = options.url_of(service) + path
        try:
            async with httpx.AsyncClient(timeout=options.proxy_timeout_s) as client:
                upstream = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return JSONResponse(
                {"detail": f"{service} did not answer at {url} ({type(exc).__name__}): running?"},
                status_code=502,
            )
        content: Any
        try:
            content = upstream.json()
        except ValueError:
            content = {"detail": upstream.text[:500]}
        return JSONResponse(content, status_code=upstream.status_code)

    @router.post("/actions/{action_id}/approve", summary="Approve a proposed action (token)")
    async def approve(action_id: str, request: Request) -> Response:
        return await forward(request, REBALANCER, f"/actions/{quote(action_id, safe='')}/approve")

    @router.post("/actions/{action_id}/reject", summary="Reject a proposed action (token)")
    async def reject(action_id: str, request: Request) -> Response:
        return await forward(request, REBALANCER, f"/actions/{quote(action_id, safe='')}/reject")

    @router.post("/alerts/{fingerprint}/ack", summary="Acknowledge an alert (token)")
    async def ack(fingerprint: str, request: Request) -> Response:
        return await forward(request, ALERT_ENGINE, f"/alerts/{quote(fingerprint, safe='')}/ack")

    @router.post("/silences", summary="Silence alerts matching labels (token)")
    async def silence(request: Request) -> Response:
        return await forward(request, ALERT_ENGINE, "/silences")

    return router
