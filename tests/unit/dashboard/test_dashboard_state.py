"""DashboardState: bounded windows, replays that restart, region filter, delta ring."""

from __future__ import annotations

from browser.pipeline_messages import clean

from gridstream.dashboard.state import DashboardState
from gridstream.schemas import alert_pb2, anomaly_pb2


def test_window_is_bounded_per_series_and_keeps_the_newest() -> None:
    state = DashboardState(window=10)
    state.apply(("reading", clean("ALL/SYSTEM_DEMAND", t, float(t))) for t in range(25))
    state.apply([("reading", clean("NI/SYSTEM_DEMAND", 5, 1.0))])
    snap = state.snapshot()
    assert [p[0] for p in snap["readings"]["ALL/SYSTEM_DEMAND"]] == list(range(15, 25))
    assert len(snap["readings"]["NI/SYSTEM_DEMAND"]) == 1


def test_same_time_replaces_and_going_back_in_time_starts_over() -> None:
    state = DashboardState()
    state.apply([("reading", clean("ALL/WIND_ACTUAL", t, 1.0)) for t in (1, 2, 3)])
    state.apply([("reading", clean("ALL/WIND_ACTUAL", 3, 9.0))])
    assert state.snapshot()["readings"]["ALL/WIND_ACTUAL"][-1] == [3, 9.0]
    state.apply([("reading", clean("ALL/WIND_ACTUAL", 1, 5.0))])
    assert state.snapshot()["readings"]["ALL/WIND_ACTUAL"] == [[1, 5.0]]


def test_region_filter_keeps_island_wide_snsp_and_range_filter_uses_data_time() -> None:
    state = DashboardState()
    state.apply(
        [
            ("reading", clean("ROI/SYSTEM_DEMAND", 1000, 1.0)),
            ("reading", clean("NI/SYSTEM_DEMAND", 1000, 2.0)),
            ("reading", clean("ALL/SNSP_ALL", 1000, 60.0)),
            ("reading", clean("ROI/SYSTEM_DEMAND", 5000, 3.0)),
        ]
    )
    snap = state.snapshot("ROI", since_ms=2000)
    assert set(snap["readings"]) == {"ROI/SYSTEM_DEMAND", "ALL/SNSP_ALL"}
    assert snap["readings"]["ROI/SYSTEM_DEMAND"] == [[5000, 3.0]]
    assert snap["readings"]["ALL/SNSP_ALL"] == []
    assert state.latest_ms() == 5000


def test_only_flagged_anomalies_are_kept() -> None:
    state = DashboardState()
    base = {"series_id": "ALL/SYSTEM_DEMAND", "region": "ALL", "field": "SYSTEM_DEMAND"}
    state.apply(
        [
            ("anomaly", anomaly_pb2.Anomaly(record_id="a", ts_ms=1, is_anomaly=False, **base)),
            ("anomaly", anomaly_pb2.Anomaly(record_id="b", ts_ms=2, is_anomaly=True, **base)),
        ]
    )
    assert [a["id"] for a in state.snapshot()["anomalies"]["ALL/SYSTEM_DEMAND"]] == ["b"]


def test_deltas_since_returns_what_changed_or_none_when_dropped() -> None:
    state = DashboardState(delta_ring=3)
    first = state.apply([("reading", clean("ALL/SYSTEM_DEMAND", 1, 1.0))])
    second = state.apply([("reading", clean("ALL/SYSTEM_DEMAND", 2, 2.0))])
    latest, deltas = state.deltas_since(first) or (0, [])
    assert latest == second and [d["reading"][0]["t"] for d in deltas] == [2]
    assert state.deltas_since(second) == (second, [])
    for t in range(3, 10):
        state.apply([("reading", clean("ALL/SYSTEM_DEMAND", t, 1.0))])
    assert state.deltas_since(first) is None


def test_alerts_update_in_place_and_resolved_ones_are_trimmed_first() -> None:
    state = DashboardState(max_alerts=2)
    firing = alert_pb2.ALERT_STATE_FIRING
    state.apply(
        [("alert", alert_pb2.Alert(fingerprint="old", state=alert_pb2.ALERT_STATE_RESOLVED))]
    )
    state.apply([("alert", alert_pb2.Alert(fingerprint="a", state=firing))])
    state.apply([("alert", alert_pb2.Alert(fingerprint="a", state=firing, acknowledged=True))])
    state.apply([("alert", alert_pb2.Alert(fingerprint="b", state=firing))])
    alerts = state.snapshot()["alerts"]
    assert [a["id"] for a in alerts] == ["b", "a"]
    assert alerts[1]["acknowledged"] is True and alerts[1]["state"] == "firing"


def test_the_delta_ring_is_bounded_in_items_not_only_in_batches() -> None:
    state = DashboardState(delta_ring=400, ring_items=50)
    first = state.apply([("reading", clean("ALL/SYSTEM_DEMAND", 0, 1.0))])
    for batch in range(1, 6):  # five batches of 20 readings: 100 items
        state.apply(
            [("reading", clean("ALL/SYSTEM_DEMAND", batch * 100 + i, 1.0)) for i in range(20)]
        )
    assert state.deltas_since(first) is None  # dropped: the page must reload the snapshot
    latest, deltas = state.deltas_since(state.seq - 2) or (0, [])
    assert latest == state.seq and sum(len(d["reading"]) for d in deltas) == 40
