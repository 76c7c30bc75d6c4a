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
