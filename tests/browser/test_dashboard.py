"""The dashboard in headless Chromium, fed from a REAL broker by messages produced here.

The dashboard runs as its own process (`gridstream service dashboard`). A small stand-in
HTTP server plays the rebalancer and the alert engine (their control endpoints check the
bearer token with the same guard the services use) and answers /ready and /metrics for the
pipeline-health panel, so this test does not depend on the other services.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import SecretStr

from gridstream.schemas import common_pb2

from . import pipeline_messages as pm

pytestmark = [pytest.mark.integration, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"
CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "browser-test-token-0123456789"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class StandIn:
    """Rebalancer + alert engine control endpoints, and /ready + /metrics, on a real port."""

    def __init__(self) -> None:
        from gridstream.http.auth import token_guard

        self.calls: list[tuple[str, dict[str, Any]]] = []
        guard = Depends(token_guard(SecretStr(TOKEN)))
        app = FastAPI()

        @app.get("/ready")
        def ready() -> dict[str, object]:
            return {"ready": True, "detail": "ok"}

        @app.get("/metrics", response_class=PlainTextResponse)
        def metrics() -> str:
            return (
                "# TYPE gridstream_records_in_total counter\n"
                'gridstream_records_in_total{service="x",topic="t"} 42\n'
            )

        @app.post("/actions/{action_id}/{verb}", dependencies=[guard])
        async def decide(action_id: str, verb: str, request: Request) -> dict[str, str]:
            self.calls.append((f"{verb}:{action_id}", await request.json()))
            return {"detail": f"action {action_id} {verb}d"}

        @app.post("/alerts/{fp}/ack", dependencies=[guard])
        async def ack(fp: str, request: Request) -> dict[str, str]:
            self.calls.append((f"ack:{fp}", await request.json()))
            return {"detail": "acknowledged"}

        @app.post("/silences", dependencies=[guard])
        async def silence(request: Request) -> dict[str, str]:
            self.calls.append(("silence", await request.json()))
            return {"detail": "silenced", "id": "s-1"}

        from gridstream.broker.ports import free_ports

        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _produce(bootstrap: str, messages: list[tuple[str, str, Any]]) -> None:
    from gridstream.bus.producer import MessageProducer
    from gridstream.bus.settings import KafkaSettings

    producer = MessageProducer(
        KafkaSettings(bootstrap=bootstrap, client_id="browser-test"),
        transactional_id=f"browser-test-{uuid.uuid4().hex[:8]}",
    )
    producer.begin()
    for topic, key, msg in messages:
        producer.send(topic, key, msg)
    producer.commit()


@pytest.fixture(scope="module")
def dashboard(kafka_bootstrap: str) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: run `make test` (tools/browser-deps.sh)")
    from gridstream.broker.ports import free_ports
    from gridstream.bus.admin import Admin
    from gridstream.bus.settings import KafkaSettings
    from gridstream.bus.topics import TopicNames, topic_specs
    from gridstream.config import SERVICE_PORTS

    topics = TopicNames().with_prefix(f"test-dash-{uuid.uuid4().hex[:8]}-")
    admin = Admin(KafkaSettings(bootstrap=kafka_bootstrap))
    admin.ensure_topics(topic_specs(topics, 1, 1))
    rows = pm.readings(SHARED_DATA / "eirgrid" / "smartgriddashboard", points=2 * 96)
    head, tail = rows[: len(rows) - 16], rows[len(rows) - 16 :]
    demand = [(t, v) for s, t, v in head if s == "ALL/SYSTEM_DEMAND"]
    last_t = demand[-1][0]
    initial: list[tuple[str, str, Any]] = [
        (topics.preprocessed, s, pm.clean(s, t, v)) for s, t, v in head
    ]
    initial += [(topics.forecasts, f.series_id, f) for f in pm.demand_forecasts(head)]
    spike_t, spike_v = demand[len(demand) * 3 // 4]
    initial.append(
        (topics.anomalies, "ALL/SYSTEM_DEMAND", pm.anomaly("ALL/SYSTEM_DEMAND", spike_t, spike_v))
    )
    initial.append((topics.alerts, "ALL/SYSTEM_DEMAND", pm.alert(last_t)))
    initial.append((topics.storage, "ALL", pm.schedule(last_t)))
    initial.append((topics.rebalance, "ALL", pm.action("act-approve", last_t, 2)))
    initial.append((topics.rebalance, "ALL", pm.action("act-other", last_t, 3)))
    _produce(kafka_bootstrap, initial)

    with StandIn() as standin, tempfile.TemporaryDirectory() as state_dir:
        port = free_ports(1)[0]
        env = dict(os.environ)
        env.update({f"GRIDSTREAM_TOPICS__{k.upper()}": v for k, v in topics.all().items()})
        env.update(
            {
                "GRIDSTREAM_BOOTSTRAP": kafka_bootstrap,
                "GRIDSTREAM_STATE_DIR": state_dir,
                "GRIDSTREAM_DASHBOARD_PROBE_INTERVAL_S": "1",
                "GRIDSTREAM_DASHBOARD_SERVICE_URLS": json.dumps(
                    {name: standin.url for name in SERVICE_PORTS}
                ),
            }
        )
        log_path = Path(state_dir) / "dashboard.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from gridstream.cli import main; main()",
                    "service",
                    "dashboard",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_readings(url, proc, log_path, expect=len(head))
            yield {
                "url": url,
                "standin": standin,
                "bootstrap": kafka_bootstrap,
                "topics": topics,
                "tail": tail,
                "last_t": last_t,
            }
        finally:
            proc.terminate()
            proc.wait(30)
            admin.delete_topics(list(topics.all().values()))


def _wait_for_readings(url: str, proc: subprocess.Popen[bytes], log: Path, expect: int) -> None:
    deadline = time.monotonic() + 90
    seen = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited: {log.read_text()[-2000:]}")
        try:
            snap = httpx.get(f"{url}/api/snapshot", timeout=2).json()
            seen = sum(len(p) for p in snap["readings"].values())
            if seen >= expect and httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"dashboard showed {seen} of {expect} readings: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def browser_page(dashboard: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(dashboard["url"])
        page.wait_for_selector("#conn.up", timeout=30_000)
        yield page, errors
        context.close()


def _points(page: Any, chart: str) -> int:
    return int(page.get_attribute(f"#{chart}", "data-points") or 0)


def test_charts_render_with_data_and_update_live(
    dashboard: dict[str, Any], browser_page: Any
) -> None:
    page, errors = browser_page
    page.wait_for_function("Number(document.querySelector('#chart-demand').dataset.points) > 50")
    assert page.locator("#chart-demand canvas").count() == 1
    for chart in ("chart-wind", "chart-co2", "chart-snsp", "chart-storage"):
        assert _points(page, chart) > 0, chart
    assert page.locator("#tiles .tile[data-field=SYSTEM_DEMAND] .v").inner_text() != "–"
    assert "lightgbm-quantile" in page.locator("#model-note").inner_text()
    # the readings are a replay: the header says so, with the day shown, and never "live"
    mode = page.locator("#mode").inner_text()
    assert (mode.startswith("replay of ") and mode.endswith("2022")) or ", ×" in mode, mode
    assert page.locator("#conn").inner_text() == "replay"
    assert page.evaluate("view.snap.anomalies['ALL/SYSTEM_DEMAND'].length") == 1
    rows = page.locator("#pipeline tbody tr")
    assert rows.count() == 9
    page.wait_for_selector("#pipeline tbody tr .dot.ok")

    before = page.evaluate("view.snap.readings['ALL/SYSTEM_DEMAND'].length")
    topics = dashboard["topics"]
    _produce(
        dashboard["bootstrap"],
        [(topics.preprocessed, s, pm.clean(s, t, v)) for s, t, v in dashboard["tail"]],
    )
    page.wait_for_function(
        f"view.snap.readings['ALL/SYSTEM_DEMAND'].length > {before}", timeout=30_000
    )
    assert not errors, errors


def test_alert_is_silenced_with_the_token(dashboard: dict[str, Any], browser_page: Any) -> None:
    page, _ = browser_page
    standin: StandIn = dashboard["standin"]
    row = page.locator("#alerts tr[data-alert-id='fp-demand-miss']")
    row.wait_for()
    page.fill("#token", TOKEN)
    row.locator("button.silence").click()
    page.wait_for_selector("#toast.ok")
    assert "silenced" in page.locator("#toast").inner_text()
    calls = [body for name, body in standin.calls if name == "silence"]
    assert calls and calls[-1]["matchers"] == {"region": "ALL", "field": "SYSTEM_DEMAND"}
    assert calls[-1]["duration"] == "1h" and calls[-1]["created_by"] == "operator"


def test_action_refused_without_token_and_approved_with_it(
    dashboard: dict[str, Any], browser_page: Any
) -> None:
    page, _ = browser_page
    standin: StandIn = dashboard["standin"]
    button = page.locator("#actions tr[data-action-id='act-approve'] button.approve")
    page.fill("#token", "")
    button.click()
    page.wait_for_selector("#toast.err")
    assert "401" in page.locator("#toast").inner_text()
    assert not any(name == "approve:act-approve" for name, _ in standin.calls)

    page.fill("#token", "not-the-right-token-at-all")
    button.click()
    page.wait_for_function("document.querySelector('#toast').innerText.includes('403')")

    page.fill("#token", TOKEN)
    button.click()
    page.wait_for_selector("#toast.ok")
    approvals = [body for name, body in standin.calls if name == "approve:act-approve"]
    assert approvals == [{"by": "operator"}]


def test_phone_layout_and_screenshot(dashboard: dict[str, Any], browser_page: Any) -> None:
    page, errors = browser_page
    page.wait_for_function("Number(document.querySelector('#chart-demand').dataset.points) > 50")
    page.evaluate("window.scrollTo(0, 0); document.querySelector('#toast').className = ''")
    page.wait_for_timeout(500)
    out = REPO / "docs" / "dashboard.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 20_000

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(800)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a phone screen"
    box = page.locator("#chart-demand canvas").bounding_box()
    assert box is not None and box["width"] <= 390
    assert not errors, errors


def test_tables_group_alerts_collapse_held_actions_and_page(
    dashboard: dict[str, Any], browser_page: Any
) -> None:
    page, errors = browser_page
    topics, last_t = dashboard["topics"], dashboard["last_t"]
    stale = []
    for i in range(23):  # one feed-stale alert per series: one group, not 23 rows
        a = pm.alert(last_t, fingerprint=f"fp-stale-{i}")
        a.name, a.severity = "FeedStale", common_pb2.SEVERITY_WARNING
        a.labels.update({"series": f"ROI/FIELD_{i}"})
        stale.append((topics.alerts, f"ROI/FIELD_{i}", a))
    held = [(topics.rebalance, "ALL", pm.action(f"act-hold-{i}", last_t + i, 7)) for i in range(60)]
    extra = [
        (topics.rebalance, "ALL", pm.action(f"act-more-{i}", last_t + i, 1)) for i in range(12)
    ]
    _produce(dashboard["bootstrap"], stale + held + extra)
    group = page.locator("#alerts tr.group[data-group='FeedStale']")
    group.wait_for(timeout=30_000)
    assert "×23" in group.inner_text() and "23 series" in group.inner_text()
    assert page.locator("#alerts tr.member").count() == 0  # collapsed until asked for
    assert "firing" in page.locator("#alert-count").inner_text()
    group.locator("button.expand").click()
    assert page.locator("#alerts tr.member").count() == 10  # a page at a time
    pager = page.locator("#alerts tr.pager[data-pager='alerts:FeedStale']")
    assert "1–10 of 23" in pager.inner_text()
    pager.locator("button.page-next").click()
    assert "11–20 of 23" in page.locator("#alerts tr.pager").inner_text()
    # 60 holds behind one count; the 14 other actions paged by ten
    assert "60" in page.locator("#held-row").inner_text()
    assert page.locator("#actions tr[data-action-id^='act-hold-']").count() == 0
    assert page.locator("#actions tbody tr[data-action-id]").count() == 10
    page.locator("#held-row button.toggle-held").click()
    assert page.locator("#actions tr[data-action-id^='act-hold-']").count() == 10
    assert not errors, errors
