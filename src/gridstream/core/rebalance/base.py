"""The rebalancing contract: inputs the policy reads and the actions it proposes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Mode(StrEnum):
    ADVISORY = "advisory"  # proposed, wait for approval (default)
    AUTOMATIC = "automatic"  # executed and published at once
    OFF = "off"  # no actions


class Kind(StrEnum):
    STORAGE_CHARGE = "storage_charge"
    STORAGE_DISCHARGE = "storage_discharge"
    INTERCONNECTOR_IMPORT = "interconnector_import"
    INTERCONNECTOR_EXPORT = "interconnector_export"
    WIND_CURTAIL = "wind_curtail"
    DEMAND_RESPONSE = "demand_response"
    HOLD = "hold"


class Approval(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class SeriesForecast:
    """A P10/P50/P90 forecast of one series (MW, or fraction for SNSP) over a window."""

    forecast_id: str
    region: str
    series: str  # demand, wind, snsp, co2
    model_version: str
    start_ms: int
    end_ms: int
    p10_max: float
    p50_max: float
    p90_max: float


@dataclass(frozen=True)
class StoragePlan:
    """The current storage setpoint for a region, from the published schedule."""

    schedule_id: str
    region: str
    start_ms: int
    end_ms: int
    net_mw: float  # discharge - charge
    fallback: bool = False


@dataclass(frozen=True)
class Observation:
    """The latest actual of a series, to compare with what the schedule assumed."""

    region: str
    series: str
    value: float
    expected: float


@dataclass(frozen=True)
class Alert:
    """A firing alert or anomaly; ``stuck`` marks a frozen feed on ``series``."""

    alert_id: str
    region: str
    series: str
    kind: str  # stuck, spike, gap, ...
    firing: bool = True


@dataclass(frozen=True)
class Interconnector:
    name: str
    region: str
    import_limit_mw: float
    export_limit_mw: float
    flow_mw: float  # signed: positive is import


@dataclass(frozen=True)
class PolicyInputs:
    now_ms: int
    forecasts: tuple[SeriesForecast, ...] = ()
    storage: tuple[StoragePlan, ...] = ()
    observations: tuple[Observation, ...] = ()
    alerts: tuple[Alert, ...] = ()
    interconnectors: tuple[Interconnector, ...] = ()


@dataclass(frozen=True)
class ActionProposal:
    """One decision with everything an auditor needs."""

    action_id: str
    region: str
    kind: Kind
    target: str
    magnitude_mw: float
    effective_from_ms: int
    effective_until_ms: int
    reason: str
    evidence: tuple[str, ...]
    confidence: float
    mode: Mode
    approval: Approval
    created_at_ms: int
    policy_version: str
    decided_by: str = "policy"
    expires_at_ms: int = 0
    history: tuple[str, ...] = field(default=())

    def with_state(self, approval: Approval, by: str, at_ms: int) -> ActionProposal:
        entry = f"{at_ms} {approval.value} by {by}"
        return replace(self, approval=approval, decided_by=by, history=(*self.history, entry))


def action_id(region: str, kind: Kind, target: str, window_start_ms: int, version: str) -> str:
    """Idempotent: the same decision for the same window always gets the same id."""
    raw = f"{region}|{kind.value}|{target}|{window_start_ms}|{version}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]
