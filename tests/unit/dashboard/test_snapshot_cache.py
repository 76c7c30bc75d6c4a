"""The snapshot cache: one build per half second under load, exact when nothing changed."""

from __future__ import annotations

import json

from browser.pipeline_messages import clean

from gridstream.dashboard.snapshot_cache import SnapshotCache
from gridstream.dashboard.state import DashboardState


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_body_is_reused_until_it_is_stale_and_the_state_moved() -> None:
    state, clock = DashboardState(), _Clock()
    cache = SnapshotCache(state, max_age_s=0.5, clock=clock)
    state.apply([("reading", clean("ALL/SYSTEM_DEMAND", 1000, 4000.0))])
    first = cache.body("ALL", None)
    assert json.loads(first)["readings"]["ALL/SYSTEM_DEMAND"] == [[1000, 4000.0]]
    state.apply([("reading", clean("ALL/SYSTEM_DEMAND", 1900, 4100.0))])
    clock.now = 0.2
    assert cache.body("ALL", None) is first  # younger than half a second: served as built
    clock.now = 0.6
    fresh = json.loads(cache.body("ALL", None))
    assert fresh["readings"]["ALL/SYSTEM_DEMAND"][-1] == [1900, 4100.0]
    assert fresh["seq"] == state.seq  # the page's delta stream resumes from the body's seq
    clock.now = 10.0
    assert cache.body("ALL", None) is cache.body("ALL", None)  # unchanged state: no rebuild


def test_regions_and_ranges_are_cached_apart() -> None:
    state, clock = DashboardState(), _Clock()
    cache = SnapshotCache(state, clock=clock)
    state.apply(
        [("reading", clean("ROI/SYSTEM_DEMAND", t * 900_000, float(t))) for t in range(8)]
        + [("reading", clean("NI/SYSTEM_DEMAND", 0, 1.0))]
    )
    roi = json.loads(cache.body("ROI", None))
    ni = json.loads(cache.body("NI", None))
    last_hour = json.loads(cache.body("ROI", 1.0))
    assert set(roi["readings"]) == {"ROI/SYSTEM_DEMAND"} and set(ni["readings"]) == {
        "NI/SYSTEM_DEMAND"
    }
    assert len(roi["readings"]["ROI/SYSTEM_DEMAND"]) == 8
    assert [p[0] for p in last_hour["readings"]["ROI/SYSTEM_DEMAND"]] == [
        t * 900_000 for t in range(3, 8)
    ]
