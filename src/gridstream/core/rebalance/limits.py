"""Safety limits of the rebalancer: bounds per action kind, rate limits, hourly cap."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from gridstream.core.rebalance.base import ActionProposal, Kind

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class SafetyLimits:
    max_mw: dict[Kind, float] = field(
        default_factory=lambda: {
            Kind.STORAGE_CHARGE: 500.0,
            Kind.STORAGE_DISCHARGE: 500.0,
            Kind.INTERCONNECTOR_IMPORT: 500.0,
            Kind.INTERCONNECTOR_EXPORT: 500.0,
            Kind.WIND_CURTAIL: 1000.0,
            Kind.DEMAND_RESPONSE: 300.0,
            Kind.HOLD: 0.0,
        }
    )
    min_interval_ms: int = 15 * 60 * 1000  # same kind+target at most once per interval
    max_actions_per_hour: int = 12

    def clamp(self, kind: Kind, magnitude_mw: float) -> float:
        return max(0.0, min(magnitude_mw, self.max_mw.get(kind, 0.0)))


def admit(
    proposals: list[ActionProposal],
    recent: list[ActionProposal],
    limits: SafetyLimits,
    now_ms: int,
    known: Container[str] | None = None,
) -> tuple[list[ActionProposal], list[str]]:
    """Drop proposals that break the rate limit or the hourly cap; say why each was dropped.

    ``recent`` must hold at least the actions of the last hour; ``known`` answers whether an
    id was decided before (default: the ids in ``recent``), so a long trail need not be
    passed whole."""
    window = [a for a in recent if now_ms - a.created_at_ms < HOUR_MS]
    last: dict[tuple[Kind, str], int] = {}
    for a in window:
        key = (a.kind, a.target)
        last[key] = max(last.get(key, 0), a.created_at_ms)
    seen = known if known is not None else {a.action_id for a in recent}
    kept: list[ActionProposal] = []
    dropped: list[str] = []
    for p in proposals:
        if p.action_id in seen:
            continue  # idempotent: already decided
        if p.kind is not Kind.HOLD:
            key = (p.kind, p.target)
            if key in last and now_ms - last[key] < limits.min_interval_ms:
                dropped.append(f"{p.kind.value} {p.target}: rate limit")
                continue
            if len(window) + len(kept) >= limits.max_actions_per_hour:
                dropped.append(f"{p.kind.value} {p.target}: hourly cap reached")
                continue
            last[key] = now_ms
        kept.append(p)
    return kept, dropped
