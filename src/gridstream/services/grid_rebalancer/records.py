"""The audit trail on the bus: ledger events <-> ``RebalanceAction`` records.

Every state change of an action (decided, approved, rejected, executed, expired) is one
record on ``rebalance_actions``, keyed by region. Reading the topic back rebuilds the
:class:`ActionLedger` (with each action's history) after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gridstream.core.rebalance import ActionLedger, Approval, Kind
from gridstream.schemas import rebalance_pb2
from gridstream.schemas.rebalance_pb2 import RebalanceAction


def _kind_to_pb(kind: str) -> rebalance_pb2.ActionKind.ValueType:
    return rebalance_pb2.ActionKind.Value(f"ACTION_KIND_{kind.upper()}")


def _approval_to_pb(approval: str) -> rebalance_pb2.ApprovalState.ValueType:
    return rebalance_pb2.ApprovalState.Value(f"APPROVAL_STATE_{approval.upper()}")


def _changed_at(body: dict[str, Any]) -> int:
    history = body.get("history") or []
    if history:
        first = str(history[-1]).split(" ", 1)[0]
        if first.lstrip("-").isdigit():
            return int(first)
    return int(body["created_at_ms"])


def event_to_proto(event: dict[str, Any]) -> RebalanceAction:
    """One ledger event (``{"event": ..., "action": body}``) as the record to publish."""
    body = event["action"]
    return RebalanceAction(
        action_id=body["action_id"],
        region=body["region"],
        kind=_kind_to_pb(body["kind"]),
        magnitude_mw=float(body["magnitude_mw"]),
        reason=body["reason"],
        evidence=list(body["evidence"]),
        approval=_approval_to_pb(body["approval"]),
        created_at_ms=int(body["created_at_ms"]),
        effective_from_ms=int(body["effective_from_ms"]),
        effective_until_ms=int(body["effective_until_ms"]),
        decided_by=body["decided_by"],
        mode=body["mode"],
        policy_version=body["policy_version"],
        target=body["target"],
        confidence=float(body["confidence"]),
        changed_at_ms=_changed_at(body),
    )


def new_records(ledger: ActionLedger, since: int) -> list[RebalanceAction]:
    """Records for the ledger events appended after the first ``since`` events."""
    return [event_to_proto(e) for e in ledger.events_since(since)]


def ledger_from_records(records: Iterable[RebalanceAction]) -> ActionLedger:
    """Rebuild the ledger from the topic, oldest record first (histories are re-derived)."""
    history: dict[str, list[str]] = {}
    events: list[dict[str, Any]] = []
    for msg in records:
        approval = Approval(
            rebalance_pb2.ApprovalState.Name(msg.approval).removeprefix("APPROVAL_STATE_").lower()
        )
        kind = Kind(rebalance_pb2.ActionKind.Name(msg.kind).removeprefix("ACTION_KIND_").lower())
        first = msg.action_id not in history
        entries = history.setdefault(msg.action_id, [])
        entries.append(
            f"{msg.changed_at_ms or msg.created_at_ms} {approval.value} by {msg.decided_by}"
        )
        body = {
            "action_id": msg.action_id,
            "region": msg.region,
            "kind": kind.value,
            "target": msg.target,
            "magnitude_mw": msg.magnitude_mw,
            "effective_from_ms": msg.effective_from_ms,
            "effective_until_ms": msg.effective_until_ms,
            "reason": msg.reason,
            "evidence": list(msg.evidence),
            "confidence": msg.confidence,
            "mode": msg.mode or "advisory",
            "approval": approval.value,
            "created_at_ms": msg.created_at_ms,
            "policy_version": msg.policy_version,
            "decided_by": msg.decided_by,
            "expires_at_ms": msg.effective_until_ms,
            "history": list(entries),
        }
        events.append({"event": "decided" if first else approval.value, "action": body})
    return ActionLedger.replay(events)
