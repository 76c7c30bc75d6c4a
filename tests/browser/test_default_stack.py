"""`gridstream up` the default way, offline, then the dashboard in headless Chromium.

As a new user on a machine without internet meets it: no source, no speed, no start given;
the live API does not answer (here: a closed local port stands in for the unreachable API),
so `up` replays the latest recorded weeks of ../shared/data/eirgrid at its watchable pace,
with its own local broker and a fresh state directory (so the trainer warm-up trains). From
the moment `up` is called, within 120 s the page must show a number in every KPI card, an
actual line and a P10-P90 band in the demand, wind and CO2 charts, every panel at the same
data time (within an hour) and a header naming the replay. The screenshot of that moment is
docs/dashboard.png.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / ".." / "shared" / "data" / "eirgrid"
CHROMIUM = Path("/usr/bin/chromium")
BUDGET_S = 120.0
KPIS = ("SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY", "SNSP_ALL")
BANDED = ("chart-demand", "chart-wind", "chart-co2")
PANELS = ("chart-demand", "chart-wind", "chart-co2", "chart-snsp", "chart-storage")
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: run `make test` (tools/browser-deps.sh)")
    if not RECORDED.is_dir():
        pytest.skip(f"real data not available: {RECORDED} is missing")
    from e2e.test_up import free_offset, gridstream

    from gridstream.broker.ports import free_ports

    closed_port = free_ports(1)[0]  # nothing listens there: the "internet" is down
    with tempfile.TemporaryDirectory() as state_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSTREAM_")}
        env.update(
            {
                "GRIDSTREAM_STATE_DIR": state_dir,
                "GRIDSTREAM_BROKER__PORT": str(free_ports(1)[0]),
                "GRIDSTREAM_INGEST_API_BASE_URL": f"http://127.0.0.1:{closed_port}",
            }
        )
        offset = free_offset()
        started = time.monotonic()
        try:
            up = gridstream(env, "up", "--port-offset", str(offset), timeout=600)
            assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr[-4000:]}"
            yield {
                "started": started,
                "up_seconds": time.monotonic() - started,
                "url": f"http://127.0.0.1:{8080 + offset}",
                "stdout": up.stdout,
                "stderr": up.stderr,
            }
        finally:
            down = gridstream(env, "down", timeout=180)
            assert down.returncode == 0, down.stderr


def _panel_state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """([kpis, panels]) => ({
            header: document.querySelector('header').innerText,
            tiles: Object.fromEntries(kpis.map((f) => [f,
                document.querySelector(`.tile[data-field="${f}"] .v`).textContent])),
            panels: Object.fromEntries(panels.map((id) => {
                const d = document.getElementById(id).dataset;
                return [id, {actual: Number(d.actual || 0), band: Number(d.band || 0),
                             time: Number(d.dataTime || 0), points: Number(d.points || 0)}];
            })),
        })""",
        [list(KPIS), list(PANELS)],
    )


def _complete(state: dict[str, Any]) -> list[str]:
    """What the page still lacks (empty: every check holds)."""
    missing = [
        f"KPI {f}" for f, text in state["tiles"].items() if not any(c.isdigit() for c in text)
    ]
    panels = state["panels"]
    missing += [f"{p} actual line" for p in BANDED if panels[p]["actual"] < 2]
    missing += [f"{p} band" for p in BANDED if panels[p]["band"] < 2]
    times = [panels[p]["time"] for p in PANELS]
    if not all(times):
        missing += [f"{p} data time" for p in PANELS if not panels[p]["time"]]
    elif max(times) - min(times) > HOUR_MS:
        missing.append(f"panels more than 1 h apart: {times}")
    if "replay of" not in state["header"]:
        missing.append(f"header without the replay: {state['header']!r}")
    return missing


def test_default_stack_shows_a_coherent_picture_within_two_minutes(
    stack: dict[str, Any],
) -> None:
    from playwright.sync_api import sync_playwright

    assert "replay" in stack["stderr"] and "trainer warm" in stack["stderr"], stack["stderr"]
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(stack["url"])
        deadline = stack["started"] + BUDGET_S
        state = _panel_state(page)
        while _complete(state) and time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            state = _panel_state(page)
        took = time.monotonic() - stack["started"]
        print(
            f"\nevery panel showed data {took:.0f} s after `up` (up itself: "
            f"{stack['up_seconds']:.0f} s)"
        )
        assert not _complete(state), (
            f"after {took:.0f} s the page still lacks {_complete(state)}; state {state}; "
            f"page errors {errors}; up printed:\n{stack['stdout']}"
        )
        assert not errors, errors
        page.wait_for_timeout(1500)  # let the charts settle for the picture
        out = REPO / "docs" / "dashboard.png"
        page.screenshot(path=str(out), full_page=True)
        assert out.stat().st_size > 50_000
        context.close()
