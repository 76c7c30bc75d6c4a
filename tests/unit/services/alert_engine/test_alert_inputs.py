"""The alert engine's inputs: one frozen feed is one FeedStuck alert, whoever reports it."""

from __future__ import annotations

from gridstream.core.alerts.engine import AlertEngine
from gridstream.core.alerts.model import AlertState
from gridstream.schemas import common_pb2, readings_pb2
from gridstream.services.alert_engine.inputs import DATA_QUALITY, on_clean, on_event
from gridstream.services.alert_engine.rules import DEFAULT_RULES_FILE, load_rules_file

DEMAND = "ALL/SYSTEM_DEMAND"
Q = 900_000


def _engine() -> AlertEngine:
    rules, _ = load_rules_file(DEFAULT_RULES_FILE)
    return AlertEngine(rules)


def _stuck_reading(ts: int) -> readings_pb2.CleanReading:
    return readings_pb2.CleanReading(
        series_id=DEMAND,
        region="ALL",
        field="SYSTEM_DEMAND",
        ts_ms=ts,
        value=4708.0,
        flags=[common_pb2.QUALITY_FLAG_STUCK],
        stuck_intervals=5,
    )


def test_the_preprocessors_event_and_the_stuck_flag_make_one_alert() -> None:
    eng = _engine()
    preprocessor_labels = {"series_id": DEMAND, "region": "ALL", "field": "SYSTEM_DEMAND"}
    on_event(eng, "feed_stuck", "smart-preprocessor", 4 * Q, "flatline", preprocessor_labels)
    on_clean(eng, _stuck_reading(4 * Q))
    on_clean(eng, _stuck_reading(5 * Q))
    eng.tick(6 * Q)
    stuck = [a for a in eng.list_alerts() if a.name == "FeedStuck"]
    assert len(stuck) == 1
    assert stuck[0].labels["series"] == DEMAND and stuck[0].labels["service"] == DATA_QUALITY
    assert stuck[0].state is AlertState.FIRING


def test_events_about_no_series_keep_their_service() -> None:
    eng = _engine()
    on_event(eng, "solver_failed", "smart-storage-optimizer", Q, "infeasible", {})
    (alert,) = eng.list_alerts()
    assert alert.name == "StorageSolverFailed" and alert.labels["service"] != DATA_QUALITY
