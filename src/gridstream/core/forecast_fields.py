"""The series the models forecast (no heavy imports: services that only need the names, such
as the rebalancer's join configuration, import this and not the feature pipeline)."""

from __future__ import annotations

SERIES_FIELDS = {"demand": "SYSTEM_DEMAND", "wind": "WIND_ACTUAL", "co2": "CO2_INTENSITY"}
"""Short series names used by the forecasting commands, mapped to EirGrid field names."""
