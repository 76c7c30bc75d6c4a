"""Probing a running service over HTTP: /ready and the gridstream_* totals in /metrics.

Shared by ``gridstream status`` and the dashboard's pipeline-health panel. Throughput is the
difference of two scrapes divided by the time between them (``RateTracker``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class MetricTotals:
    """Sums over all labels of the standard runner metrics of one service."""

    records_in: float = 0.0
    records_out: float = 0.0
    dead_letters: float = 0.0
    lag: float = 0.0
    has_lag: bool = False


@dataclass(frozen=True)
class ServiceProbe:
    name: str
    url: str
    reachable: bool
    ready: bool
    detail: str
    totals: MetricTotals = field(default_factory=MetricTotals)
    records_per_s: float | None = None
    at: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "url": self.url,
            "reachable": self.reachable,
            "ready": self.ready,
            "detail": self.detail,
            "records_in": self.totals.records_in,
            "records_out": self.totals.records_out,
            "dead_letters": self.totals.dead_letters,
            "lag": self.totals.lag if self.totals.has_lag else None,
            "records_per_s": self.records_per_s,
        }


def parse_metrics(text: str) -> MetricTotals:
    """Totals of records in/out, dead letters and consumer lag from Prometheus text."""
    sums = {"in": 0.0, "out": 0.0, "dlq": 0.0, "lag": 0.0}
    has_lag = False
    names = {
        "gridstream_records_in_total": "in",
        "gridstream_records_out_total": "out",
        "gridstream_dead_letters_total": "dlq",
        "gridstream_consumer_lag": "lag",
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = names.get(sample.name)
            if key is None:
                continue
            if key == "lag":
                has_lag = True
            sums[key] += float(sample.value)
    return MetricTotals(sums["in"], sums["out"], sums["dlq"], sums["lag"], has_lag)


def probe_service(client: httpx.Client, name: str, url: str) -> ServiceProbe:
    """One look at a service; never raises (an unreachable service is a probe result)."""
    now = time.monotonic()
    try:
        ready = client.get(f"{url}/ready")
    except httpx.HTTPError as exc:
        return ServiceProbe(name, url, False, False, f"not answering: {type(exc).__name__}", at=now)
    try:
        body = ready.json()
        detail = str(body.get("detail", ""))
    except ValueError:
        detail = ready.text[:200]
    totals = MetricTotals()
    try:
        metrics = client.get(f"{url}/metrics")
        if metrics.status_code == 200:
            totals = parse_metrics(metrics.text)
    except (httpx.HTTPError, ValueError):
        pass
    return ServiceProbe(name, url, True, ready.status_code == 200, detail, totals, at=now)


class RateTracker:
    """Adds records/s to probes from the previous probe of the same service."""

    def __init__(self) -> None:
        self._last: dict[str, ServiceProbe] = {}

    def update(self, probe: ServiceProbe) -> ServiceProbe:
        previous = self._last.get(probe.name)
        if probe.reachable:
            self._last[probe.name] = probe
        if previous is None or not probe.reachable or probe.at <= previous.at:
            return probe
        count_now = max(probe.totals.records_in, probe.totals.records_out)
        count_then = max(previous.totals.records_in, previous.totals.records_out)
        rate = max(0.0, count_now - count_then) / (probe.at - previous.at)
        return replace(probe, records_per_s=rate)
