"""Property-based testing of every service's HTTP API from its OpenAPI schema (schemathesis).

Each service's app is built exactly as ``gridstream service <name>`` builds it (its
``build(settings)`` and the shared app factory) and driven in-process over ASGI, with the
control token, so the generated requests reach the handlers behind the token guard. No request
may crash a handler (an exception escapes) or answer 500; the designed 5xx answers are
allowed where the API documents them: 503 from /ready, /health and control endpoints of a
worker that is not running, 502/504 from the dashboard's proxy with nothing upstream.
Bodies above 1 MiB are refused with 413 before any handler runs.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import SecretStr

from gridstream.bus.topics import TopicNames
from gridstream.config import Settings
from gridstream.http.app import MAX_BODY_BYTES, create_app
from gridstream.services.registry import SERVICE_MODULES

pytestmark = pytest.mark.integration
TOKEN = "fuzz-control-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 12
#: endpoints that stream forever (server-sent events) are not request/response operations
STREAMING = {"/api/stream"}
DESIGNED_5XX = {502, 503, 504}


@pytest.fixture(params=sorted(SERVICE_MODULES))
def app(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str, unique: Any
) -> Iterator[FastAPI]:
    name = request.param
    module = importlib.import_module(SERVICE_MODULES[name])
    config = Settings(
        bootstrap=kafka_bootstrap,  # the worker is not started; some commands read topics
        topics=TopicNames().with_prefix(unique("fuzz") + "-"),
        state_dir=tmp_path,
        control_token=SecretStr(TOKEN),
    )
    parts = module.build(config)
    stop = threading.Event()
    pump = threading.Thread(target=_pump_commands, args=(parts.worker, stop), daemon=True)
    pump.start()
    yield create_app(parts.name, parts.health, parts.registry, parts.routers)
    stop.set()
    pump.join(5)


def _pump_commands(worker: Any, stop: threading.Event) -> None:
    """Operator commands (ack, silence, approve...) run on the worker thread, which is not
    started here (no Kafka): run them as the worker loop would, so each call answers."""
    runner = getattr(worker, "runner", worker)
    control = getattr(getattr(runner, "processor", None), "control", None)
    run_pending = getattr(control, "run_pending", None)
    while run_pending is not None and not stop.wait(0.02):
        run_pending()


def test_no_request_crashes_a_service(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMING:
            continue

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate),  # report failures as found, unshrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=AUTH)
            status = response.status_code
            assert status < 500 or status in DESIGNED_5XX, (
                f"{case.method} {case.formatted_path} -> {status}: {response.text[:300]}"
            )

        check()
        tested += 1
    assert tested >= 3  # /health, /ready, /metrics at least


def test_oversized_bodies_are_refused(app: FastAPI) -> None:
    client = TestClient(app)
    posts = [
        path
        for path, ops in app.openapi()["paths"].items()
        if "post" in ops and path not in STREAMING
    ] or ["/health"]
    body = b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"
    for path in posts:
        response = client.post(
            path.replace("{", "").replace("}", ""),
            content=body,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert response.status_code == 413, (path, response.status_code)
    lying = client.post(posts[0], content=b"{}", headers={**AUTH, "Content-Length": "abc"})
    assert lying.status_code in (400, 413)
