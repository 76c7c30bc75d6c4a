"""The alert engine's HTTP API.

* ``GET /alerts?state=firing&label=series=ALL/*`` — alerts (filters: state, label matchers);
* ``GET /silences``; ``POST /silences`` and ``DELETE /silences/{id}`` (token);
* ``POST /alerts/{fingerprint}/ack`` (token);
* ``GET /rules``; ``POST /rules/reload`` (token).

Silences and acks are published as commands on ``alert_commands`` (see ``commands``): the
engines apply them in event-time order with their other inputs; the request waits for that
(503 if they do not apply it in time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from gridstream.core.alerts.engine import UnknownAlert
from gridstream.core.alerts.model import Alert, AlertState, Silence, matches
from gridstream.core.alerts.rules import parse_duration
from gridstream.errors import ConfigError
from gridstream.http.auth import token_guard
from gridstream.services.alert_engine.control import AlertControl, WorkerUnavailable
from gridstream.services.alert_engine.records import alert_json, silence_json
from gridstream.services.alert_engine.rules import RulesHolder

MAX_SILENCE_MS = 90 * 86_400_000


class AlertCommands(Protocol):
    """What the router needs of the engine: its command queue and the operator commands that
    run on the worker thread through it."""

    control: AlertControl

    def acknowledge(self, fingerprint: str, by: str) -> Alert: ...

    def add_silence(
        self,
        matchers: Mapping[str, str],
        duration_ms: int,
        created_by: str,
        comment: str,
        starts_at_ms: int | None = None,
    ) -> Silence: ...

    def expire_silence(self, silence_id: str) -> Silence: ...


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(min_length=1, description="label -> value or glob")
    duration: str | None = Field(None, description="how long, e.g. 2h (or give ends_at_ms)")
    starts_at_ms: int | None = Field(None, ge=0, description="default: now (engine time)")
    ends_at_ms: int | None = Field(None, ge=0)
    created_by: str = Field(min_length=1, max_length=200)
    comment: str = Field("", max_length=2000)

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            ms = parse_duration(v)
            if not 0 < ms <= MAX_SILENCE_MS:
                raise ValueError("duration must be positive and at most 90d")
        return v

    @model_validator(mode="after")
    def _span(self) -> SilenceRequest:
        if (self.duration is None) == (self.ends_at_ms is None):
            raise ValueError("give exactly one of duration or ends_at_ms")
        if self.ends_at_ms is not None:
            if self.starts_at_ms is None:
                raise ValueError("ends_at_ms needs starts_at_ms (or use duration)")
            if not 0 < self.ends_at_ms - self.starts_at_ms <= MAX_SILENCE_MS:
                raise ValueError("ends_at_ms must be after starts_at_ms, at most 90d later")
        return self

    def duration_ms(self) -> int:
        if self.duration is not None:
            return parse_duration(self.duration)
        assert self.ends_at_ms is not None and self.starts_at_ms is not None
        return self.ends_at_ms - self.starts_at_ms


class AckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=200, description="who acknowledges")


def _label_matchers(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, f"bad label filter {item!r}: use label=name=value"
            )
        out[key.strip()] = value.strip()
    return out


def alerts_router(
    processor: AlertCommands, rules: RulesHolder, token: SecretStr | None
) -> APIRouter:
    router = APIRouter(tags=["alerts"])
    control = processor.control
    guard = [Depends(token_guard(token))]

    def run(command: Any) -> Any:
        """Publishes the command to alert_commands and waits for the engines to apply it."""
        try:
            return command()
        except UnknownAlert as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except WorkerUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc

    @router.get("/alerts", summary="Alerts, filtered by state and labels")
    def get_alerts(
        state: Annotated[AlertState | None, Query(description="pending, firing, resolved")] = None,
        label: Annotated[list[str], Query(description="label=value (glob), repeatable")] = [],  # noqa: B006
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> list[dict[str, Any]]:
        wanted = _label_matchers(label)
        picked = [
            a
            for a in control.alerts()
            if (state is None or a.state is state) and matches(wanted, a.labels)
        ]
        picked.sort(key=lambda a: (a.starts_at_ms, a.fingerprint), reverse=True)
        return [alert_json(a) for a in picked[:limit]]

    @router.post("/alerts/{fingerprint}/ack", dependencies=guard, summary="Acknowledge an alert")
    def ack(fingerprint: str, body: AckRequest) -> dict[str, Any]:
        alert = run(lambda: processor.acknowledge(fingerprint, body.by))
        return alert_json(alert)

    @router.get("/silences", summary="Silences (active and expired)")
    def get_silences() -> list[dict[str, Any]]:
        return [silence_json(s) for s in control.silences()]

    @router.post(
        "/silences",
        dependencies=guard,
        status_code=status.HTTP_201_CREATED,
        summary="Silence alerts whose labels match",
    )
    def post_silence(body: SilenceRequest) -> dict[str, Any]:
        silence = run(
            lambda: processor.add_silence(
                body.matchers, body.duration_ms(), body.created_by, body.comment, body.starts_at_ms
            )
        )
        return silence_json(silence)

    @router.delete("/silences/{silence_id}", dependencies=guard, summary="Expire a silence")
    def delete_silence(silence_id: str) -> dict[str, Any]:
        return silence_json(run(lambda: processor.expire_silence(silence_id)))

    @router.get("/rules", summary="The rules in force and where they came from")
    def get_rules() -> dict[str, Any]:
        return rules.describe()

    @router.post("/rules/reload", dependencies=guard, summary="Reload and validate the rules file")
    def reload_rules() -> dict[str, Any]:
        try:
            rules.reload()
        except ConfigError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        return rules.describe()

    return router
