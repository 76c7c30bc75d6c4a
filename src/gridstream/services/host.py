"""Hosting a service process: its worker loop in a thread and its HTTP API in the main thread.

SIGTERM/SIGINT (handled by uvicorn) stop the HTTP server, then the worker finishes its batch
and closes. A worker that dies takes the process down (exit 1) so a supervisor restarts it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import uvicorn
from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from gridstream.bus.health import HealthSnapshot
from gridstream.http.app import create_app

log = logging.getLogger(__name__)


class Worker(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ServiceParts:
    """What a service module's ``build(settings)`` returns."""

    name: str
    worker: Worker
    health: Callable[[], HealthSnapshot]
    registry: CollectorRegistry
    routers: Sequence[APIRouter] = field(default_factory=list)


def serve(parts: ServiceParts, host: str, port: int) -> int:
    """Run the worker and the HTTP API until a signal; return the process exit code."""
    failure: list[BaseException] = []
    app = create_app(parts.name, parts.health, parts.registry, parts.routers)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )

    def work() -> None:
        try:
            parts.worker.run()
        except BaseException as exc:
            log.exception("%s worker crashed", parts.name)
            failure.append(exc)
        finally:
            server.should_exit = True

    thread = threading.Thread(target=work, name=f"{parts.name}-worker", daemon=True)
    thread.start()
    log.info("%s listening on http://%s:%d", parts.name, host, port)
    server.run()
    parts.worker.stop()
    thread.join(timeout=60)
    return 1 if failure else 0
