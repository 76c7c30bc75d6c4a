"""The EirGrid series catalogue: which API area publishes which FieldName, in which unit,
at which interval and for which regions.

A series is one (region, field) pair; its id is ``"{region}/{field}"``.
"""

from __future__ import annotations

from dataclasses import dataclass

REGIONS: tuple[str, ...] = ("ALL", "ROI", "NI")


@dataclass(frozen=True)
class SeriesSpec:
    """One published EirGrid field."""

    field: str
    area: str
    unit: str
    interval_minutes: int
    regions: tuple[str, ...]
    signed: bool = False
    description: str = ""


CATALOGUE: tuple[SeriesSpec, ...] = (
    SeriesSpec("SYSTEM_DEMAND", "demandactual", "MW", 15, REGIONS, description="actual demand"),
    SeriesSpec(
        "DEMAND_FORECAST_VALUE", "demandforecast", "MW", 30, REGIONS, description="EirGrid forecast"
    ),
    SeriesSpec("WIND_ACTUAL", "windactual", "MW", 15, REGIONS, description="wind generation"),
    SeriesSpec("WIND_FCAST", "windforecast", "MW", 15, REGIONS, description="wind forecast"),
    SeriesSpec("GEN_EXP", "generationactual", "MW", 15, REGIONS, description="generation"),
    SeriesSpec("SOLAR_ACTUAL", "solaractual", "MW", 15, REGIONS, description="solar generation"),
    SeriesSpec("SOLAR_FCAST", "solarforecast", "MW", 15, REGIONS, description="solar forecast"),
    SeriesSpec("CO2_INTENSITY", "co2intensity", "gCO2/kWh", 15, REGIONS, description="intensity"),
    SeriesSpec("CO2_EMISSIONS", "co2emission", "tCO2/h", 15, REGIONS, description="emissions"),
    SeriesSpec("SNSP_ALL", "SnspALL", "%", 30, ("ALL",), description="system non-synchronous pen."),
    SeriesSpec(
        "INTER_NET", "interconnection", "MW", 15, ("ALL",), signed=True, description="net flow"
    ),
    SeriesSpec(
        "INTER_EWIC", "interconnection", "MW", 15, ("ALL", "ROI"), signed=True, description="EWIC"
    ),
    SeriesSpec(
        "INTER_GRNLK",
        "interconnection",
        "MW",
        15,
        ("ALL", "ROI"),
        signed=True,
        description="Greenlink",
    ),
    SeriesSpec(
        "INTER_MOYLE", "interconnection", "MW", 15, ("ALL", "NI"), signed=True, description="Moyle"
    ),
)

_BY_FIELD = {spec.field: spec for spec in CATALOGUE}

AREAS: tuple[str, ...] = tuple(dict.fromkeys(spec.area for spec in CATALOGUE))


def spec_for_field(field: str) -> SeriesSpec | None:
    """The catalogue entry of a FieldName, or ``None`` when EirGrid's field is unknown to us."""
    return _BY_FIELD.get(field)


def specs_for_area(area: str) -> list[SeriesSpec]:
    """The fields an API area publishes (``interconnection`` has several)."""
    return [spec for spec in CATALOGUE if spec.area == area]


def regions_for_area(area: str) -> tuple[str, ...]:
    """Regions for which at least one field of ``area`` is published."""
    seen: dict[str, None] = {}
    for spec in specs_for_area(area):
        for region in spec.regions:
            seen[region] = None
    return tuple(r for r in REGIONS if r in seen)


def area_regions(
    areas: tuple[str, ...] | list[str] | None = None,
    regions: tuple[str, ...] | list[str] | None = None,
) -> list[tuple[str, str]]:
    """All (area, region) pairs worth requesting, optionally filtered."""
    out: list[tuple[str, str]] = []
    for area in areas or AREAS:
        for region in regions_for_area(area):
            if regions is None or region in regions:
                out.append((area, region))
    return out
