"""The alert engine's input merge waits for its dense inputs, however far the sparse ones run
ahead (the upstream services' events lead the detector's verdicts by the pipeline's lag)."""

from __future__ import annotations

from gridstream.core.alerts.merge import MERGE_GRACE_MS, EventMerge, Held

HOUR = 3_600_000


def test_sparse_events_far_ahead_do_not_make_the_merge_give_up_on_anomalies() -> None:
    merge = EventMerge()
    merge.add(Held(0, 0, 1, "anomalies", "a0"))
    merge.add(Held(30 * HOUR, 1, 1, "system_events", "e30"))  # an upstream event, a day ahead
    due, missing = merge.release(["anomalies"])
    assert [h.payload for h in due] == ["a0"] and missing == []
    merge.add(Held(31 * HOUR, 0, 2, "anomalies", "a31"))
    due, missing = merge.release(["anomalies"])
    assert [h.payload for h in due] == ["e30", "a31"] and missing == []


def test_a_dense_input_lagging_past_the_grace_is_named() -> None:
    merge = EventMerge()
    merge.add(Held(0, 1, 1, "readings", "r0"))
    merge.add(Held(0, 0, 1, "anomalies", "a0"))
    late = MERGE_GRACE_MS + HOUR
    merge.add(Held(late, 1, 2, "readings", "r1"))
    due, missing = merge.release(["anomalies", "readings"])
    assert missing == ["anomalies"]
    assert [h.payload for h in due] == ["a0", "r0"]  # up to the grace, in event-time order
