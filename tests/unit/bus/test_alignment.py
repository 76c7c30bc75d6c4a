"""Event-time alignment's bookkeeping: which partitions pause, and that nothing stalls."""

from __future__ import annotations

import pytest

from gridstream.bus.alignment import Alignment, Plan

A, B, C = ("t", 0), ("t", 1), ("t", 2)
HOUR = 3_600_000


def aligned(*parts: tuple[str, int]) -> Alignment:
    alignment = Alignment(drift_ms=6 * HOUR, idle_s=5.0)
    alignment.assigned(parts, now_s=0.0)
    return alignment


def test_a_partition_far_ahead_pauses_until_the_slowest_catches_up() -> None:
    al = aligned(A, B)
    al.observe(A, 100 * HOUR, 1.0)
    al.observe(B, 10 * HOUR, 1.0)
    plan = al.plan({A, B}, 1.0)
    assert plan.pause == (A,) and plan.resume == ()
    al.observe(B, 95 * HOUR, 2.0)  # within the drift of A again, but not half of it
    assert al.plan({A, B}, 2.0) == Plan((), ())
    al.observe(B, 97 * HOUR, 3.0)  # half the drift: A reads again
    plan = al.plan({A, B}, 3.0)
    assert plan.pause == () and plan.resume == (A,)


def test_within_the_drift_nothing_pauses() -> None:
    al = aligned(A, B)
    al.observe(A, 16 * HOUR, 1.0)
    al.observe(B, 10 * HOUR, 1.0)
    assert al.plan({A, B}, 1.0).pause == ()


def test_a_quiet_caught_up_partition_stops_holding_the_others_back() -> None:
    al = aligned(A, B)
    al.observe(A, 100 * HOUR, 1.0)
    al.observe(B, 10 * HOUR, 1.0)
    assert al.plan({A}, 2.0).pause == (A,)  # B caught up but heard from a second ago
    assert al.plan({A}, 6.5).resume == (A,)  # B quiet for more than idle_s: A reads on
    al.observe(B, 11 * HOUR, 7.0)  # B delivers again (its upstream caught up): it holds A
    assert al.plan({A, B}, 7.0).pause == (A,)


def test_a_partition_with_records_but_none_read_holds_every_other_back() -> None:
    al = aligned(A, B, C)
    al.observe(A, 10 * HOUR, 1.0)
    al.observe(B, 11 * HOUR, 1.0)
    plan = al.plan({A, B, C}, 1.0)
    assert set(plan.pause) == {A, B}
    # an empty partition (nothing waiting, nothing heard past idle_s) holds nothing
    assert set(al.plan({A, B}, 10.0).resume) == {A, B}


def test_the_slowest_is_never_paused_so_reading_always_goes_on() -> None:
    al = aligned(A, B, C)
    for i, tp in enumerate((A, B, C)):
        al.observe(tp, (i + 1) * 50 * HOUR, 1.0)
    plan = al.plan({A, B, C}, 1.0)
    assert A not in plan.pause and set(plan.pause) == {B, C}
    al.observe(A, 100 * HOUR, 2.0)  # A within half the drift of B: B reads again
    assert al.plan({A, B, C}, 2.0).resume == (B,)


def test_revoked_partitions_are_forgotten() -> None:
    al = aligned(A, B)
    al.observe(A, 100 * HOUR, 1.0)
    al.observe(B, 10 * HOUR, 1.0)
    al.plan({A, B}, 1.0)
    al.revoked([B])
    assert al.plan({A}, 1.5).resume == (A,)
    al.clear()
    assert al.paused() == ()


def test_event_times_only_move_forward() -> None:
    al = aligned(A, B)
    al.observe(A, 100 * HOUR, 1.0)
    al.observe(A, 5 * HOUR, 1.0)  # a late correction does not pull A back
    al.observe(B, 10 * HOUR, 1.0)
    assert al.plan({A, B}, 1.0).pause == (A,)


def test_drift_and_idle_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Alignment(0, 5.0)


def test_quiet_time_does_not_count_while_nothing_is_read_nor_held() -> None:
    al = aligned(A, B)
    al.observe(A, 20 * HOUR, 1.0)
    al.observe(B, 18 * HOUR, 1.0)
    assert al.plan({A, B}, 1.0) == Plan((), ())
    assert al.plan(set(), 100.0) == Plan((), ())  # a broker outage: nothing read for 99 s
    al.observe(A, 60 * HOUR, 100.5)  # A's upstream is back first, B's is not yet
    assert al.plan({A}, 100.5).pause == (A,)  # B still holds A: it was quiet only 0.5 s
    assert al.plan({A}, 106.0).resume == (A,)  # A held back for idle_s: B is let go


def test_a_partition_is_still_known_after_new_clients() -> None:
    al = aligned(A, B)
    al.observe(A, 10 * HOUR, 1.0)
    al.observe(B, 100 * HOUR, 1.0)
    al.clear()  # the clients were rebuilt; A's upstream has not written since
    al.assigned([A, B], 2.0)
    al.observe(B, 101 * HOUR, 2.5)
    assert al.plan({B}, 2.5).pause == (B,)  # A's remembered time holds B back


def test_a_batch_reads_each_partition_only_a_drift_past_the_slowest_other() -> None:
    al = aligned(A, B, C)
    # the first batch after an assignment: A and B start at hour 0 and 30, C has nothing
    limits = al.limits({A: 0, B: 30 * HOUR}, {A, B}, 0.0)
    assert limits == {A: 36 * HOUR, B: 6 * HOUR}  # B may not run ahead, A may catch up past B
    assert al.limits({A: 0}, {A, B}, 0.0)[A] < 0  # B has records waiting: A waits for it
    assert al.limits({A: 0}, {A}, 0.0) == {}  # alone: the slowest always reads on
    al.observe(B, 12 * HOUR, 1.0)  # B read before: it holds A where it stands
    assert al.limits({A: 50 * HOUR}, {A, B}, 1.0) == {A: 18 * HOUR}
    assert al.limits({A: 50 * HOUR}, set(), 10.0) == {}  # B caught up and quiet: no limit


def test_a_partition_cut_in_a_batch_is_paused_and_resumes_as_the_slowest_catches_up() -> None:
    al = aligned(A, B)
    al.observe(B, 10 * HOUR, 1.0)
    assert al.hold(A, 17 * HOUR)  # cut at its first record: it stands there
    assert al.paused() == (A,)
    assert al.plan({A, B}, 1.0) == Plan((), ())  # 7 h ahead: more than half the drift
    al.observe(B, 14 * HOUR, 2.0)
    assert al.plan({A, B}, 2.0).resume == (A,)
    assert not al.hold(("other", 0), HOUR)  # not tracked: nothing would resume it
