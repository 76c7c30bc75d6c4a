"""The rebalancer's HTTP API: actions, audit trail, approvals and mode (control token)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field, SecretStr

from gridstream.core.rebalance import ActionProposal, ActionStateError, Mode, UnknownAction
from gridstream.http.auth import token_guard
from gridstream.services.grid_rebalancer.control import CommandQueue, WorkerUnavailable


class RebalancerCommands(Protocol):
    """What the router needs of the rebalancer: what it has decided and the operator commands,
    run on the worker thread through its command queue."""

    control: CommandQueue
    mode: Mode

    def actions(self) -> list[ActionProposal]: ...

    def audit(self) -> list[dict[str, Any]]: ...

    def approve(self, action_id: str, by: str) -> ActionProposal: ...

    def reject(self, action_id: str, by: str) -> ActionProposal: ...

    def set_mode(self, mode: Mode, by: str) -> Mode: ...


class Decision(BaseModel):
    by: str = Field("operator", min_length=1, max_length=100, description="who decides")


class ModeChange(BaseModel):
    mode: Mode
    by: str = Field("operator", min_length=1, max_length=100)


def action_json(action: ActionProposal) -> dict[str, Any]:
    body = asdict(action)
    body["kind"] = action.kind.value
    body["mode"] = action.mode.value
    body["approval"] = action.approval.value
    body["evidence"] = list(action.evidence)
    body["history"] = list(action.history)
    return body


def _run(processor: RebalancerCommands, command: Any) -> Any:
    try:
        return processor.control.call(command)
    except UnknownAction as exc:
        raise HTTPException(404, str(exc)) from None
    except ActionStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except WorkerUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


def rebalance_router(processor: RebalancerCommands, token: SecretStr | None) -> APIRouter:
    router = APIRouter(tags=["rebalance"])
    guard = [Depends(token_guard(token))]

    @router.get("/actions", summary="Actions, newest last, with filters")
    def get_actions(
        state: str | None = Query(None, description="proposed, approved, rejected, ..."),
        kind: str | None = Query(None, description="e.g. storage_discharge, wind_curtail"),
        region: str | None = Query(None),
        limit: int = Query(200, ge=1, le=5000),
    ) -> list[dict[str, Any]]:
        actions = [
            a
            for a in processor.actions()
            if (state is None or a.approval.value == state)
            and (kind is None or a.kind.value == kind)
            and (region is None or a.region == region)
        ]
        return [action_json(a) for a in actions[-limit:]]

    @router.get("/actions/{action_id}", summary="One action with its history")
    def get_action(action_id: str) -> dict[str, Any]:
        for a in processor.actions():
            if a.action_id == action_id:
                return action_json(a)
        raise HTTPException(404, f"no action {action_id!r}; list them with GET /actions")

    @router.post("/actions/{action_id}/approve", dependencies=guard, summary="Approve")
    def approve(action_id: str, body: Decision | None = None) -> dict[str, Any]:
        by = f"operator:{(body or Decision()).by}"
        return action_json(_run(processor, lambda: processor.approve(action_id, by)))

    @router.post("/actions/{action_id}/reject", dependencies=guard, summary="Reject")
    def reject(action_id: str, body: Decision | None = None) -> dict[str, Any]:
        by = f"operator:{(body or Decision()).by}"
        return action_json(_run(processor, lambda: processor.reject(action_id, by)))

    @router.get("/audit", summary="The append-only audit trail, oldest first")
    def get_audit(
        action_id: str | None = Query(None), limit: int = Query(1000, ge=1, le=100_000)
    ) -> list[dict[str, Any]]:
        events = [
            e
            for e in processor.audit()
            if action_id is None or e["action"]["action_id"] == action_id
        ]
        return events[-limit:]

    @router.get("/mode", summary="advisory, automatic or off")
    def get_mode() -> dict[str, str]:
        return {"mode": processor.mode.value}

    @router.post("/mode", dependencies=guard, summary="Switch advisory/automatic/off")
    def set_mode(body: ModeChange) -> dict[str, str]:
        mode = _run(processor, lambda: processor.set_mode(body.mode, f"operator:{body.by}"))
        return {"mode": str(mode.value)}

    return router
