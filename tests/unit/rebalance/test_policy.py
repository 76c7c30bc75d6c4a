"""Policy decisions for each action kind, suspect-data holds, modes and safety limits."""

from __future__ import annotations

from gridstream.core.rebalance import (
    Alert,
    Approval,
    Interconnector,
    Kind,
    Mode,
    Observation,
    PolicyConfig,
    PolicyInputs,
    RebalancePolicy,
    SafetyLimits,
    SeriesForecast,
    StoragePlan,
)

NOW = 1_700_000_000_000
H = 3_600_000


def fc(series: str, p10: float, p50: float, p90: float, region: str = "ALL") -> SeriesForecast:
    return SeriesForecast(f"{region}/{series}@1", region, series, "m1", NOW, NOW + H, p10, p50, p90)


def kinds(actions: list) -> list[Kind]:  # type: ignore[type-arg]
    return [a.kind for a in actions]


def test_storage_dispatch_follows_schedule_adjusted_for_deviation() -> None:
    plan = StoragePlan("sched-1", "ALL", NOW, NOW + H, net_mw=100.0)
    obs = Observation("ALL", "demand", value=5050.0, expected=5000.0)
    [action] = RebalancePolicy().decide(PolicyInputs(NOW, storage=(plan,), observations=(obs,)))
    assert action.kind is Kind.STORAGE_DISCHARGE
    assert action.magnitude_mw == 150.0
    assert action.evidence == ("sched-1",)
    assert action.approval is Approval.PROPOSED and action.mode is Mode.ADVISORY
    assert "deviation +50" in action.reason


def test_storage_discharge_stays_within_the_snsp_headroom() -> None:
    plan = StoragePlan("sched-2", "ALL", NOW, NOW + H, net_mw=300.0)
    near = (fc("snsp", 0.70, 0.72, 0.73), fc("demand", 3900, 4000, 4100))
    [action] = RebalancePolicy().decide(PolicyInputs(NOW, storage=(plan,), forecasts=near))
    # cautious: (0.75 - SNSP P90 0.73) * demand P10 3900 = 78 MW of non-synchronous headroom
    assert action.kind is Kind.STORAGE_DISCHARGE
    assert action.magnitude_mw == 78.0
    assert "SNSP" in action.reason and "ALL/snsp@1" in action.evidence
    over = (fc("snsp", 0.70, 0.74, 0.76), fc("demand", 3900, 4000, 4100))
    acts = RebalancePolicy().decide(PolicyInputs(NOW, storage=(plan,), forecasts=over))
    assert Kind.STORAGE_DISCHARGE not in kinds(acts)
    low = (fc("snsp", 0.40, 0.45, 0.50), fc("demand", 3900, 4000, 4100))
    [free] = RebalancePolicy().decide(PolicyInputs(NOW, storage=(plan,), forecasts=low))
    assert free.magnitude_mw == 300.0 and free.evidence == ("sched-2",)


def test_demand_response_and_import_within_link_limit() -> None:
    ic = Interconnector("EWIC", "ALL", import_limit_mw=500, export_limit_mw=500, flow_mw=450)
    cfg = PolicyConfig(demand_response_threshold_mw=6000)
    acts = RebalancePolicy(cfg).decide(
        PolicyInputs(NOW, forecasts=(fc("demand", 5900, 6100, 6300),), interconnectors=(ic,))
    )
    by_kind = {a.kind: a for a in acts}
    assert by_kind[Kind.DEMAND_RESPONSE].magnitude_mw == 300.0
    assert by_kind[Kind.INTERCONNECTOR_IMPORT].magnitude_mw == 50.0  # only 50 MW headroom
    assert "ALL/demand@1" in by_kind[Kind.DEMAND_RESPONSE].evidence
    assert 0 < by_kind[Kind.DEMAND_RESPONSE].confidence < 1


def test_no_demand_response_below_threshold() -> None:
    acts = RebalancePolicy(PolicyConfig(demand_response_threshold_mw=7000)).decide(
        PolicyInputs(NOW, forecasts=(fc("demand", 5900, 6100, 6300),))
    )
    assert acts == []


def test_snsp_above_limit_exports_then_curtails() -> None:
    ic = Interconnector("MOYLE", "ALL", import_limit_mw=450, export_limit_mw=100, flow_mw=0)
    acts = RebalancePolicy().decide(
        PolicyInputs(
            NOW,
            forecasts=(fc("snsp", 0.78, 0.80, 0.82), fc("demand", 3900, 4000, 4100)),
            interconnectors=(ic,),
        )
    )
    by_kind = {a.kind: a for a in acts}
    # excess = (0.80 - 0.75) * 4000 = 200 MW: 100 exported, 100 curtailed
    assert by_kind[Kind.INTERCONNECTOR_EXPORT].magnitude_mw == 100.0
    assert by_kind[Kind.WIND_CURTAIL].magnitude_mw == 100.0


def test_stuck_feed_means_hold_and_no_action_on_that_series() -> None:
    alert = Alert("alert-9", "ALL", "demand", "stuck")
    acts = RebalancePolicy(PolicyConfig(demand_response_threshold_mw=6000)).decide(
        PolicyInputs(NOW, forecasts=(fc("demand", 6500, 7000, 7500),), alerts=(alert,))
    )
    assert kinds(acts) == [Kind.HOLD]
    assert acts[0].evidence == ("alert-9",)


def test_modes() -> None:
    inputs = PolicyInputs(NOW, storage=(StoragePlan("s", "ALL", NOW, NOW + H, -80.0),))
    policy = RebalancePolicy()
    assert policy.decide(inputs, Mode.OFF) == []
    [auto] = policy.decide(inputs, Mode.AUTOMATIC)
    assert auto.approval is Approval.EXECUTED and auto.kind is Kind.STORAGE_CHARGE


def test_safety_limits_cap_magnitude_rate_and_count() -> None:
    limits = SafetyLimits(max_actions_per_hour=1)
    limits.max_mw[Kind.STORAGE_DISCHARGE] = 50.0
    policy = RebalancePolicy(PolicyConfig(limits=limits))
    first = policy.decide(
        PolicyInputs(NOW, storage=(StoragePlan("s", "ALL", NOW, NOW + H, 400.0),))
    )
    assert first[0].magnitude_mw == 50.0 and "safety limit" in first[0].reason
    again = policy.decide(
        PolicyInputs(
            NOW + 60_000, storage=(StoragePlan("s2", "ALL", NOW + 60_000, NOW + H, 40.0),)
        ),
        recent=first,
    )
    assert again == []  # rate limit and hourly cap


def test_ids_are_idempotent() -> None:
    inputs = PolicyInputs(NOW, storage=(StoragePlan("s", "ALL", NOW, NOW + H, 80.0),))
    a = RebalancePolicy().decide(inputs)
    b = RebalancePolicy().decide(inputs)
    assert a[0].action_id == b[0].action_id
    assert RebalancePolicy().decide(inputs, recent=a) == []
