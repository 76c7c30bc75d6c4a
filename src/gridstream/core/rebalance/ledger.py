"""The action ledger: an append-only audit trail with idempotent approval and expiry.

State is rebuilt from the event list (``replay``), so a service that persists the events
(topic + store) gets the same trail back after a restart.

Memory is bounded for a service that runs for years: the newest :data:`TRAIL_IN_MEMORY`
events are kept for the audit view (the whole trail stays on the topic), and an action in a
final state is forgotten :data:`FINISHED_KEPT_MS` of event time after it was created. Nothing
a decision reads is lost by that: the rate limits look back an hour, and an id is decided for
its own window, which lies in the past by then.
"""

from __future__ import annotations

import bisect
from dataclasses import fields
from typing import Any

from gridstream.core.rebalance.base import ActionProposal, Approval, Kind, Mode
from gridstream.errors import GridstreamError

FINAL = {Approval.REJECTED, Approval.EXECUTED, Approval.EXPIRED}
#: audit events kept in memory (the newest; older ones are on the topic)
TRAIL_IN_MEMORY = 20_000
#: how long (event time, after creation) a finished action is still kept in the ledger
FINISHED_KEPT_MS = 7 * 24 * 3_600_000
_FIELDS = tuple(f.name for f in fields(ActionProposal))


class ActionStateError(GridstreamError):
    """An approval or rejection that the action's current state does not allow."""


class UnknownAction(GridstreamError):
    """No action with that id; list them with GET /actions."""


def _to_event(kind: str, action: ActionProposal) -> dict[str, Any]:
    body = {name: getattr(action, name) for name in _FIELDS}  # flat: no deep copy needed
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
    """The trail and the current state of every action, with indexes that keep a decision's
    cost flat as the trail grows: actions by creation time (the rate limits look back an
    hour) and the ids still awaiting a decision (expiry)."""

    def __init__(self) -> None:
        self._actions: dict[str, ActionProposal] = {}
        self._events: list[dict[str, Any]] = []
        self._by_time: list[tuple[int, int, str]] = []  # (created_at_ms, seq, id), sorted
        self._proposed: dict[str, None] = {}  # ids in PROPOSED state, in decision order
        self._dropped = 0  # events older than the in-memory trail
        self._pruned_to = 0  # finished actions created before this are forgotten

    @classmethod
    def replay(cls, events: list[dict[str, Any]]) -> ActionLedger:
        ledger = cls()
        for event in events:
            ledger._index(_from_body(event["action"]))
            ledger._events.append(event)
        ledger._trim()
        return ledger

    def _trim(self) -> None:
        extra = len(self._events) - TRAIL_IN_MEMORY
        if extra > 0:
            del self._events[:extra]
            self._dropped += extra

    def _prune(self, now_ms: int) -> None:
        """Forget finished actions created more than :data:`FINISHED_KEPT_MS` before now
        (checked once per day of event time)."""
        cutoff = now_ms - FINISHED_KEPT_MS
        if cutoff < self._pruned_to + 24 * 3_600_000:
            return
        self._pruned_to = cutoff
        end = bisect.bisect_left(self._by_time, (cutoff, -1, ""))
        kept = []
        for entry in self._by_time[:end]:
            if self._actions[entry[2]].approval in FINAL:
                del self._actions[entry[2]]
            else:
                kept.append(entry)
        self._by_time[:end] = kept

    def _index(self, action: ActionProposal) -> None:
        if action.action_id not in self._actions:
            bisect.insort(
                self._by_time, (action.created_at_ms, len(self._by_time), action.action_id)
            )
        self._actions[action.action_id] = action
        if action.approval is Approval.PROPOSED:
            self._proposed[action.action_id] = None
        else:
            self._proposed.pop(action.action_id, None)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The audit trail, oldest first (a copy: the trail is append-only)."""
        return list(self._events)

    @property
    def event_count(self) -> int:
        """Events appended so far, including those no longer kept in memory."""
        return self._dropped + len(self._events)

    def events_since(self, count: int) -> list[dict[str, Any]]:
        """The events appended after the first ``count`` (still in memory)."""
        if count < self._dropped:
            raise ValueError(f"events before {self._dropped} are no longer in memory")
        return self._events[count - self._dropped :]

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._actions

    def created_since(self, since_ms: int) -> list[ActionProposal]:
        """Actions created at or after ``since_ms``, oldest first (current state)."""
        start = bisect.bisect_left(self._by_time, (since_ms, -1, ""))
        return [self._actions[i] for _, _, i in self._by_time[start:]]

    def actions(self) -> list[ActionProposal]:
        return sorted(self._actions.values(), key=lambda a: a.created_at_ms)

    def get(self, action_id: str) -> ActionProposal:
        try:
            return self._actions[action_id]
        except KeyError:
            raise UnknownAction(f"no action {action_id!r}") from None

    def _append(self, kind: str, action: ActionProposal) -> dict[str, Any]:
        self._index(action)
        event = _to_event(kind, action)
        self._events.append(event)
        if len(self._events) > 2 * TRAIL_IN_MEMORY:
            self._trim()
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

    def expire(self, now_ms: int, region: str | None = None) -> list[ActionProposal]:
        """Proposals whose window has passed become expired (recorded in the trail); only
        those of ``region`` if given (each region has its own event-time clock)."""
        self._prune(now_ms)
        out = []
        for action in [self._actions[i] for i in self._proposed]:
            if region is not None and action.region != region:
                continue
            if now_ms >= action.expires_at_ms:
                updated = action.with_state(Approval.EXPIRED, "ledger", now_ms)
                self._append("expired", updated)
                out.append(updated)
        return out
