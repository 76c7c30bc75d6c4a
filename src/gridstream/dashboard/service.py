"""The ``dashboard`` service (port 8080): live page fed from Kafka, controls proxied."""

from __future__ import annotations

import sys
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from gridstream.config import Settings
from gridstream.dashboard.api import page_router
from gridstream.dashboard.feed import DashboardFeed
from gridstream.dashboard.proxy import control_router
from gridstream.dashboard.settings import DashboardSettings
from gridstream.dashboard.state import KINDS_WITH_EVENT, DashboardState
from gridstream.services.host import ServiceParts

SERVICE = "dashboard"


def _counter(state: DashboardState, kind: str) -> Callable[[], float]:
    return lambda: float(state.counts().get(kind, 0))


def build(settings: Settings) -> ServiceParts:
    # hand the interpreter to a waiting request thread after 1 ms, not 5: the feed thread's
    # decoding otherwise adds 5 ms per switch to every answer while a replay floods it
    sys.setswitchinterval(0.001)
    options = DashboardSettings()
    state = DashboardState(window=options.window_points)
    feed = DashboardFeed(settings, options, state)
    registry = CollectorRegistry()
    received = Gauge(
        "gridstream_dashboard_records_total",
        "Records the dashboard has folded into its view, by kind",
        ["service", "kind"],
        registry=registry,
    )
    for kind in KINDS_WITH_EVENT:
        received.labels(SERVICE, kind).set_function(_counter(state, kind))
    return ServiceParts(
        name=SERVICE,
        worker=feed,
        health=feed.health.snapshot,
        registry=registry,
        routers=[page_router(state), control_router(options)],
    )
