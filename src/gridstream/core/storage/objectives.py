"""Objective weights of the storage optimiser, in euro-equivalent units so they combine.

Every term of the LP objective is money: tonnes of CO2 at a shadow carbon price, MW of the
horizon's peak net demand at a capacity value, MWh of wind absorbed at a curtailment value,
and euros of energy cost when a price series is given. Presets name common mixes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gridstream.errors import ConfigError

OBJECTIVES = ("co2", "peak", "wind", "cost", "mixed")


class ObjectiveWeights(BaseModel):
    """Weights of the combinable objectives (0 switches a term off)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    co2_eur_per_t: float = Field(0.0, ge=0, description="shadow price of one tonne of CO2")
    peak_eur_per_mw: float = Field(0.0, ge=0, description="value of 1 MW off the horizon peak")
    wind_eur_per_mwh: float = Field(0.0, ge=0, description="value of 1 MWh of wind absorbed")
    cost_weight: float = Field(0.0, ge=0, description="weight of energy cost (needs prices)")
    robustness: float = Field(
        0.5,
        ge=0,
        le=1,
        description="0 plans on P50; 1 prices every action at its worst quantile (P10/P90)",
    )
    spread_widening: float = Field(
        0.0,
        ge=0,
        le=1,
        description="plan CO2 intensity and price on P50 moved this far toward P90 where P50 "
        "is above the horizon's median and toward P10 where below: a P50 path is smoother "
        "than the path a replanning controller will see and trade on",
    )
    snsp_limit: float = Field(0.75, gt=0, le=1, description="operational SNSP limit, fraction")
    throughput_penalty_eur_per_mwh: float = Field(
        0.0,
        ge=0,
        description="planning hurdle per MWh charged or discharged, on top of the fleet's "
        "degradation cost: cycle only when the forecast spread clears the losses by a margin",
    )
    terminal_value_quantile: float | None = Field(
        None,
        ge=0,
        le=1,
        description="value energy left at the horizon end at this quantile of the forecast "
        "CO2 intensity (and price), after discharge losses; None: no value beyond the floor",
    )

    @model_validator(mode="after")
    def _something(self) -> ObjectiveWeights:
        if not (
            self.co2_eur_per_t or self.peak_eur_per_mw or self.wind_eur_per_mwh or self.cost_weight
        ):
            raise ValueError("at least one objective weight must be positive")
        return self

    @property
    def name(self) -> str:
        """A short label: the single active objective, or ``mixed``."""
        active = [
            label
            for label, weight in (
                ("co2", self.co2_eur_per_t),
                ("peak", self.peak_eur_per_mw),
                ("wind", self.wind_eur_per_mwh),
                ("cost", self.cost_weight),
            )
            if weight > 0
        ]
        return active[0] if len(active) == 1 else "mixed"


def preset(name: str, robustness: float = 0.5) -> ObjectiveWeights:
    """Weights for a named objective: co2, peak, wind, cost or mixed (co2 + peak + wind)."""
    presets = {
        "co2": {"co2_eur_per_t": 100.0},
        "peak": {"peak_eur_per_mw": 100.0},
        "wind": {"wind_eur_per_mwh": 20.0},
        "cost": {"cost_weight": 1.0},
        "mixed": {"co2_eur_per_t": 100.0, "peak_eur_per_mw": 20.0, "wind_eur_per_mwh": 10.0},
    }
    if name not in presets:
        raise ConfigError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    return ObjectiveWeights(robustness=robustness, **presets[name])
