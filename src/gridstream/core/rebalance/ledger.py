"""The action ledger: an append-only audit trail with idempotent approval and expiry.

State is rebuilt from the event list (``replay``), so a service that persists the events
(topic + store) gets the same trail back after a restart.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gridstream.core.rebalance.base import ActionProposal, Approval, Kind, Mode
from gridstream.errors import GridstreamError

FINAL = {Approval.REJECTED, Approval.EXECUTED, Approval.EXPIRED}


class ActionStateError(GridstreamError):
    """An approval or rejection that the action's current state does not allow."""


class UnknownAction(GridstreamError):
    """No action with that id; list them with GET /actions."""


def _to_event(kind: str, action: ActionProposal) -> dict[str, Any]:
    body = asdict(action)
    body["kind"] = action.kind.value
    body["mode"] = action.mode.value
    body["approval"] = action.approval.value
    body["evidence"] = list(action.evidence)
    body["history"] = list(action.history)
    return {"event": kind, "action": body}


def _from_body(body: dict[str, Any]) -> ActionProposal:
    data = dict(body)
    data["kind"] = Kind(data["kind"])
    data["mode"] = Mode(data["mode"])
    data["approval"] = Approval(data["approval"])
    data["evidence"] = tuple(data["evidence"])
    data["history"] = tuple(data["history"])
    return ActionProposal(**data)


class ActionLedger:
    def __init__(self) -> None:
        self._actions: dict[str, ActionProposal] = {}
        self._events: list[dict[str, Any]] = []

    @classmethod
    def replay(cls, events: list[dict[str, Any]]) -> ActionLedger:
        ledger = cls()
        for event in events:
            action = _from_body(event["action"])
            ledger._actions[action.action_id] = action
            ledger._events.append(event)
        return ledger

    @property
    def events(self) -> list[dict[str, Any]]:
        """The audit trail, oldest first (a copy: the trail is append-only)."""
        return list(self._events)

    def actions(self) -> list[ActionProposal]:
        return sorted(self._actions.values(), key=lambda a: a.created_at_ms)

    def get(self, action_id: str) -> ActionProposal:
        try:
            return self._actions[action_id]
        except KeyError:
            raise UnknownAction(f"no action {action_id!r}") from None

    def _append(self, kind: str, action: ActionProposal) -> dict[str, Any]:
        self._actions[action.action_id] = action
        event = _to_event(kind, action)
        self._events.append(event)
        return event

    def record(self, proposals: list[ActionProposal]) -> list[dict[str, Any]]:
        """Add new decisions; ones already recorded (same id) are ignored."""
        return [self._append("decided", p) for p in proposals if p.action_id not in self._actions]

    def _transition(self, action_id: str, to: Approval, by: str, now_ms: int) -> ActionProposal:
        action = self.get(action_id)
        if action.approval is to or (
            to is Approval.APPROVED and action.approval is Approval.EXECUTED
        ):
            return action  # idempotent
        if action.approval in FINAL or (
            action.approval is Approval.APPROVED and to is Approval.REJECTED
        ):
            raise ActionStateError(
                f"action {action_id} is {action.approval.value}; it cannot become {to.value}"
            )
        if now_ms >= action.expires_at_ms:
            self._append("expired", action.with_state(Approval.EXPIRED, "ledger", now_ms))
            raise ActionStateError(f"action {action_id} expired; wait for a new proposal")
        updated = action.with_state(to, by, now_ms)
        self._append(to.value, updated)
        return updated

    def approve(self, action_id: str, by: str, now_ms: int) -> ActionProposal:
        return self._transition(action_id, Approval.APPROVED, by, now_ms)

    def reject(self, action_id: str, by: str, now_ms: int) -> ActionProposal:
        return self._transition(action_id, Approval.REJECTED, by, now_ms)

    def mark_executed(self, action_id: str, by: str, now_ms: int) -> ActionProposal:
        action = self.get(action_id)
        if action.approval is Approval.EXECUTED:
            return action
        if action.approval is not Approval.APPROVED:
            raise ActionStateError(f"action {action_id} is {action.approval.value}, not approved")
        updated = action.with_state(Approval.EXECUTED, by, now_ms)
        self._append("executed", updated)
        return updated

    def expire(self, now_ms: int) -> list[ActionProposal]:
        """Proposals whose window has passed become expired (recorded in the trail)."""
        out = []
        for action in list(self._actions.values()):
            if action.approval is Approval.PROPOSED and now_ms >= action.expires_at_ms:
                updated = action.with_state(Approval.EXPIRED, "ledger", now_ms)
                self._append("expired", updated)
                out.append(updated)
        return out
