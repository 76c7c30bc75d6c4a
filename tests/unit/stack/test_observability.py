"""The Grafana dashboard and Prometheus config match the metrics and ports the code has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from gridstream.config import SERVICE_PORTS

REPO = Path(__file__).resolve().parents[3]
OBS = REPO / "deploy" / "observability"


def defined_metric_names() -> set[str]:
    text = "\n".join(p.read_text() for p in (REPO / "src" / "gridstream").rglob("*.py"))
    return set(re.findall(r'"(gridstream_[a-z_]+)"', text))


def test_every_dashboard_query_uses_a_metric_the_services_define() -> None:
    dash = json.loads((OBS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {
        re.sub(r"_(bucket|sum|count)$", "", m)
        for e in exprs
        for m in re.findall(r"gridstream_[a-z_]+", e)
    }
    assert used, "the dashboard queries no gridstream metric"
    assert used <= defined_metric_names(), used - defined_metric_names()


def test_prometheus_scrapes_every_service_port() -> None:
    config = yaml.safe_load((OBS / "prometheus.yml").read_text())
    targets = {
        s["labels"]["gridstream_service"]: int(t.rsplit(":", 1)[1])
        for job in config["scrape_configs"]
        for s in job["static_configs"]
        for t in s["targets"]
    }
    assert targets == SERVICE_PORTS
