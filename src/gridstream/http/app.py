"""The per-service HTTP app: truthful /health and /ready, Prometheus /metrics, routers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gridstream.bus.health import HealthSnapshot

MAX_BODY_BYTES = 1_048_576


def create_app(
    service: str,
    health: Callable[[], HealthSnapshot],
    registry: CollectorRegistry,
    routers: Sequence[APIRouter] = (),
    version: str = "",
) -> FastAPI:
    app = FastAPI(title=f"GridStream {service}", version=version or "0.1.0")

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}, status_code=413
            )
        return await call_next(request)

    @app.get("/health", tags=["ops"], summary="Is the process alive?")
    def get_health() -> JSONResponse:
        snap = health()
        code = 200 if snap.alive else 503
        return JSONResponse(
            {"service": service, "alive": snap.alive, "detail": snap.detail}, status_code=code
        )

    @app.get("/ready", tags=["ops"], summary="Connected, assigned and making progress?")
    def get_ready() -> JSONResponse:
        snap = health()
        body = {
            "service": service,
            "ready": snap.ready,
            "connected": snap.connected,
            "assigned": snap.assigned,
            "progressing": snap.progressing,
            "detail": snap.detail,
        }
        return JSONResponse(body, status_code=200 if snap.ready else 503)

    @app.get(
        "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    def get_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app
