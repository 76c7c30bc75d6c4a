"""Rebalancing policy: forecasts, schedules, anomalies and alerts in; audited actions out."""

from gridstream.core.rebalance.base import (
    ActionProposal,
    Alert,
    Approval,
    Interconnector,
    Kind,
    Mode,
    Observation,
    PolicyInputs,
    SeriesForecast,
    StoragePlan,
)
from gridstream.core.rebalance.ledger import ActionLedger, ActionStateError, UnknownAction
from gridstream.core.rebalance.limits import SafetyLimits
from gridstream.core.rebalance.policy import POLICY_VERSION, PolicyConfig, RebalancePolicy

__all__ = [
    "POLICY_VERSION",
    "ActionLedger",
    "ActionProposal",
    "ActionStateError",
    "Alert",
    "Approval",
    "Interconnector",
    "Kind",
    "Mode",
    "Observation",
    "PolicyConfig",
    "PolicyInputs",
    "RebalancePolicy",
    "SafetyLimits",
    "SeriesForecast",
    "StoragePlan",
    "UnknownAction",
]
