"""The audit trail: idempotent approval, forbidden transitions, expiry, rebuild after restart."""

from __future__ import annotations

import json

import pytest

from gridstream.core.rebalance import (
    ActionLedger,
    ActionStateError,
    Approval,
    PolicyInputs,
    RebalancePolicy,
    StoragePlan,
    UnknownAction,
)

NOW = 1_700_000_000_000
H = 3_600_000


def ledger_with_one() -> tuple[ActionLedger, str]:
    ledger = ActionLedger()
    acts = RebalancePolicy().decide(
        PolicyInputs(NOW, storage=(StoragePlan("s", "ALL", NOW, NOW + H, 80.0),))
    )
    ledger.record(acts)
    return ledger, acts[0].action_id


def test_approval_is_idempotent_and_audited() -> None:
    ledger, aid = ledger_with_one()
    first = ledger.approve(aid, "alice", NOW + 1)
    second = ledger.approve(aid, "alice", NOW + 2)
    assert first == second and first.approval is Approval.APPROVED
    assert [e["event"] for e in ledger.events] == ["decided", "approved"]
    with pytest.raises(ActionStateError, match="cannot become rejected"):
        ledger.reject(aid, "bob", NOW + 3)


def test_recording_twice_adds_nothing_and_unknown_ids_fail() -> None:
    ledger, aid = ledger_with_one()
    assert ledger.record([ledger.get(aid)]) == []
    with pytest.raises(UnknownAction):
        ledger.approve("nope", "alice", NOW)


def test_expiry() -> None:
    ledger, aid = ledger_with_one()
    assert [a.action_id for a in ledger.expire(NOW + H)] == [aid]
    with pytest.raises(ActionStateError):
        ledger.approve(aid, "alice", NOW + H + 1)


def test_restart_keeps_the_trail() -> None:
    ledger, aid = ledger_with_one()
    ledger.approve(aid, "alice", NOW + 5)
    ledger.mark_executed(aid, "executor", NOW + 6)
    stored = json.loads(json.dumps(ledger.events))  # as a store would keep it
    again = ActionLedger.replay(stored)
    assert again.events == ledger.events
    restored = again.get(aid)
    assert restored.approval is Approval.EXECUTED
    assert [h.split(" ", 1)[1] for h in restored.history] == [
        "proposed by policy",
        "approved by alice",
        "executed by executor",
    ]


def _decide_at(ledger: ActionLedger, now: int) -> list[str]:
    """One storage-dispatch decision at ``now``, recorded; the new ids."""
    recent = ledger.created_since(now - H)
    acts = RebalancePolicy().decide(
        PolicyInputs(now, storage=(StoragePlan(f"s{now}", "ALL", now, now + H, 80.0),)),
        recent=recent,
        known=ledger,
    )
    ledger.record(acts)
    return [a.action_id for a in acts]


def test_indexes_match_a_full_scan_as_the_trail_grows() -> None:
    ledger = ActionLedger()
    ids = [i for k in range(12) for i in _decide_at(ledger, NOW + k * H // 2)]
    assert len(ids) == 12 and all(i in ledger for i in ids) and "nope" not in ledger
    everything = ledger.actions()
    for since in (NOW - H, NOW, NOW + 3 * H, NOW + 5 * H + 1, NOW + 9 * H):
        expected = [a for a in everything if a.created_at_ms >= since]
        assert ledger.created_since(since) == expected
    # an id decided long ago stays known: deciding the same slot again adds nothing
    assert _decide_at(ledger, NOW) == []
    # only proposals still awaiting a decision can expire, in decision order
    ledger.approve(ids[0], "alice", NOW + 1)
    ledger.reject(ids[1], "bob", NOW + 2)
    expired = [a.action_id for a in ledger.expire(NOW + 100 * H)]
    assert expired == ids[2:]
    assert ledger.expire(NOW + 101 * H) == []
    again = ActionLedger.replay(json.loads(json.dumps(ledger.events)))
    assert again.created_since(NOW) == ledger.created_since(NOW)
    assert again.expire(NOW + 102 * H) == []
    assert again.event_count == ledger.event_count == 12 + 2 + 10
    assert [e["event"] for e in again.events_since(again.event_count - 1)] == ["expired"]


def proposals_at(ts: int) -> list:
    return RebalancePolicy().decide(
        PolicyInputs(ts, storage=(StoragePlan(f"s{ts}", "ALL", ts, ts + H, 80.0),))
    )


def test_the_in_memory_trail_is_bounded_and_counts_every_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gridstream.core.rebalance import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "TRAIL_IN_MEMORY", 5)
    ledger = ActionLedger()
    for k in range(30):
        before = ledger.event_count
        appended = ledger.record(proposals_at(NOW + k * H))
        assert ledger.events_since(before) == appended
    assert ledger.event_count == 30
    assert len(ledger.events) <= 10
    assert ledger.events[-1] == appended[-1]
    with pytest.raises(ValueError, match="no longer in memory"):
        ledger.events_since(0)
    rebuilt = ActionLedger.replay(ledger.events)
    assert len(rebuilt.events) == 5


def test_finished_actions_are_forgotten_a_week_after_and_open_ones_kept() -> None:
    ledger = ActionLedger()
    done = proposals_at(NOW)
    ledger.record(done)
    ledger.reject(done[0].action_id, "op", NOW + 1)
    kept = proposals_at(NOW + H)
    ledger.record(kept)
    ledger.expire(NOW + 6 * 24 * H, region="NI")  # another region's clock: nothing expires
    assert done[0].action_id in ledger
    ledger.expire(NOW + 9 * 24 * H, region="NI")
    assert done[0].action_id not in ledger
    assert kept[0].action_id in ledger  # still proposed: kept until it expires
    assert ledger.event_count == 3
