"""Human-readable wording for anomaly evidence ("demand 1,738 MW below P10 of the 1 h forecast")."""

from __future__ import annotations

_FIELD_NAMES = {
    "SYSTEM_DEMAND": "demand",
    "GEN_EXP": "generation",
    "WIND_ACTUAL": "wind",
    "SNSP_ALL": "SNSP",
    "CO2_EMISSIONS": "CO2 emissions",
    "CO2_INTENSITY": "CO2 intensity",
    "INTER_NET": "net interconnection",
    "INTER_EWIC": "EWIC flow",
    "INTER_MOYLE": "Moyle flow",
}


def series_name(series_id: str) -> str:
    """A short human name for a series id such as ``ALL/SYSTEM_DEMAND`` ("demand")."""
    region, _, field = series_id.partition("/")
    field = field or region
    name = _FIELD_NAMES.get(field, field.lower().replace("_", " "))
    return name if region in ("ALL", field) else f"{region} {name}"


def amount(value: float, unit: str) -> str:
    """``1,738 MW`` / ``12.5 %``: thousands separators, decimals only for small numbers."""
    magnitude = abs(value)
    text = f"{magnitude:,.0f}" if magnitude >= 100 else f"{magnitude:,.1f}"
    return f"{text} {unit}".strip() if unit != "%" else f"{text}%"


def horizon(minutes: int) -> str:
    """``15 min``, ``1 h``, ``1.5 h``, ``24 h``."""
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes / 60:g} h"


def duration(ms: int) -> str:
    """``45 min`` or ``5.5 h``."""
    return horizon(int(ms // 60_000))
