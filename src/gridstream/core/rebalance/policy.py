"""RebalancePolicy: from forecasts, storage schedules, observations and alerts to actions."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from gridstream.core.rebalance.base import (
    ActionProposal,
    Approval,
    Kind,
    Mode,
    PolicyInputs,
    SeriesForecast,
    action_id,
)
from gridstream.core.rebalance.limits import SafetyLimits, admit

POLICY_VERSION = "rebalance-policy/1"
STEP_MS = 15 * 60 * 1000


@dataclass(frozen=True)
class PolicyConfig:
    snsp_limit: float = 0.75  # operational SNSP limit (fraction)
    demand_response_threshold_mw: float = 6500.0  # forecast peak above which DR is requested
    deviation_gain: float = 1.0  # MW of extra discharge per MW demand above the schedule's view
    min_action_mw: float = 1.0
    limits: SafetyLimits = field(default_factory=SafetyLimits)


def _confidence(f: SeriesForecast, threshold: float) -> float:
    """How sure the forecast is that its peak exceeds ``threshold``."""
    if f.p10_max > threshold:
        return 0.9
    if f.p50_max > threshold:
        return 0.6
    return 0.3


def _snsp_forecast_id(by_key: dict[tuple[str, str], SeriesForecast], region: str) -> str:
    snsp = by_key.get((region, "snsp")) or by_key.get(("ALL", "snsp"))
    return snsp.forecast_id if snsp is not None else ""


class RebalancePolicy:
    """Pure decision logic; the service adds persistence, the bus and the control API."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()

    def decide(
        self,
        inputs: PolicyInputs,
        mode: Mode = Mode.ADVISORY,
        recent: list[ActionProposal] | None = None,
        known: Container[str] | None = None,
    ) -> list[ActionProposal]:
        """Proposed actions (advisory), executed ones (automatic) or none (off).

        ``recent``: at least the last hour's actions (rate limits); ``known``: the ids decided
        before (idempotency; default: those of ``recent``)."""
        if mode is Mode.OFF:
            return []
        cfg = self.config
        now = inputs.now_ms
        suspect = {
            (a.region, a.series): a.alert_id
            for a in inputs.alerts
            if a.firing and a.kind in ("stuck", "gap", "flatline")
        }
        out: list[ActionProposal] = []

        def make(
            region: str,
            kind: Kind,
            target: str,
            mw: float,
            start: int,
            end: int,
            reason: str,
            evidence: tuple[str, ...],
            confidence: float,
        ) -> None:
            magnitude = cfg.limits.clamp(kind, mw)
            if kind is not Kind.HOLD and magnitude < cfg.min_action_mw:
                return
            if magnitude < mw:
                reason += f" (capped at the {magnitude:.0f} MW safety limit)"
            state = Approval.EXECUTED if mode is Mode.AUTOMATIC else Approval.PROPOSED
            out.append(
                ActionProposal(
                    action_id=action_id(region, kind, target, start, POLICY_VERSION),
                    region=region,
                    kind=kind,
                    target=target,
                    magnitude_mw=round(magnitude, 1),
                    effective_from_ms=start,
                    effective_until_ms=end,
                    reason=reason,
                    evidence=evidence,
                    confidence=confidence,
                    mode=mode,
                    approval=state,
                    created_at_ms=now,
                    policy_version=POLICY_VERSION,
                    expires_at_ms=end,
                    history=(f"{now} {state.value} by policy",),
                )
            )

        for (region, series), alert in sorted(suspect.items()):
            make(
                region,
                Kind.HOLD,
                f"{region}/{series}",
                0.0,
                now,
                now + STEP_MS,
                f"holding actions on {region} {series}: the feed is suspect (alert {alert})",
                (alert,),
                1.0,
            )

        by_key = {(f.region, f.series): f for f in inputs.forecasts}
        observed = {(o.region, o.series): o for o in inputs.observations}
        for plan in inputs.storage:
            if plan.fallback:
                continue
            net, note, evidence = plan.net_mw, "as scheduled", [plan.schedule_id]
            obs = observed.get((plan.region, "demand"))
            if obs is not None and (plan.region, "demand") not in suspect:
                dev = obs.value - obs.expected
                net += cfg.deviation_gain * dev
                note = f"schedule {plan.net_mw:+.0f} MW adjusted for demand deviation {dev:+.0f} MW"
            if net > 0:
                net, capped = self._snsp_room(by_key, plan.region, net)
                if capped is not None:
                    note += capped
                    evidence.append(_snsp_forecast_id(by_key, plan.region))
            kind = Kind.STORAGE_DISCHARGE if net > 0 else Kind.STORAGE_CHARGE
            make(
                plan.region,
                kind,
                f"{plan.region}/storage",
                abs(net),
                plan.start_ms,
                plan.end_ms,
                f"dispatch storage: {note}",
                tuple(evidence),
                0.8,
            )

        for (region, series), f in sorted(by_key.items()):
            if (region, series) in suspect:
                continue
            if series == "demand" and f.p90_max > cfg.demand_response_threshold_mw:
                need = f.p90_max - cfg.demand_response_threshold_mw
                make(
                    region,
                    Kind.DEMAND_RESPONSE,
                    f"{region}/demand",
                    need,
                    f.start_ms,
                    f.end_ms,
                    f"forecast demand peak P90 {f.p90_max:.0f} MW exceeds the "
                    f"{cfg.demand_response_threshold_mw:.0f} MW threshold",
                    (f.forecast_id, f.model_version),
                    _confidence(f, cfg.demand_response_threshold_mw),
                )
                for ic in inputs.interconnectors:
                    if ic.region == region and ic.import_limit_mw - ic.flow_mw > 0:
                        mw = min(need, ic.import_limit_mw - ic.flow_mw)
                        make(
                            region,
                            Kind.INTERCONNECTOR_IMPORT,
                            ic.name,
                            mw,
                            f.start_ms,
                            f.end_ms,
                            f"import on {ic.name} to cover the forecast peak "
                            f"(flow {ic.flow_mw:+.0f} MW, limit {ic.import_limit_mw:.0f} MW)",
                            (f.forecast_id, f.model_version),
                            _confidence(f, f.p90_max - need),
                        )
            if series == "snsp" and f.p50_max > cfg.snsp_limit:
                demand = by_key.get((region, "demand"))
                base = demand.p50_max if demand is not None else 0.0
                excess = (f.p50_max - cfg.snsp_limit) * base
                snsp_evidence: tuple[str, ...] = (f.forecast_id, f.model_version) + (
                    (demand.forecast_id,) if demand is not None else ()
                )
                for ic in inputs.interconnectors:
                    room = ic.export_limit_mw + ic.flow_mw
                    if ic.region == region and room > 0 and excess > 0:
                        mw = min(excess, room)
                        make(
                            region,
                            Kind.INTERCONNECTOR_EXPORT,
                            ic.name,
                            mw,
                            f.start_ms,
                            f.end_ms,
                            f"export on {ic.name} to absorb wind above the SNSP "
                            f"limit (room {room:.0f} MW)",
                            snsp_evidence,
                            _confidence(f, cfg.snsp_limit),
                        )
                        excess -= mw
                make(
                    region,
                    Kind.WIND_CURTAIL,
                    f"{region}/wind",
                    excess,
                    f.start_ms,
                    f.end_ms,
                    f"forecast SNSP {f.p50_max:.0%} exceeds the {cfg.snsp_limit:.0%} limit",
                    snsp_evidence,
                    _confidence(f, cfg.snsp_limit),
                )

        kept, _dropped = admit(out, recent or [], cfg.limits, now, known)
        return kept

    def _snsp_room(
        self, by_key: dict[tuple[str, str], SeriesForecast], region: str, discharge_mw: float
    ) -> tuple[float, str | None]:
        """Battery output is non-synchronous: discharge only within the SNSP headroom.

        The headroom is (limit - forecast SNSP P90) x forecast demand P10 (cautious: on a
        Jan 2022 replay the P50 version still added 2.5 h above the limit), from the region's
        (or, as SNSP is an all-island figure, the all-island) forecasts; without both
        forecasts the discharge is left as scheduled. Returns the allowed MW and a note.
        """
        snsp = by_key.get((region, "snsp")) or by_key.get(("ALL", "snsp"))
        demand = by_key.get((region, "demand")) or by_key.get(("ALL", "demand"))
        if snsp is None or demand is None:
            return discharge_mw, None
        room = max(0.0, (self.config.snsp_limit - snsp.p90_max) * demand.p10_max)
        if room >= discharge_mw:
            return discharge_mw, None
        return room, (
            f"; limited to {room:.0f} MW: forecast SNSP P90 {snsp.p90_max:.0%} leaves that much "
            f"headroom under the {self.config.snsp_limit:.0%} limit"
        )
