"""What the rebalancer's event-time join waits for at origin ``t`` of a region, fixed by
configuration alone (never by what happened to arrive): the forecasts the pipeline produces
for that region, on the grid of their publication interval.

The forecaster forecasts its fields (``GRIDSTREAM_FORECASTER_FIELDS``) in every region where
the source catalogue publishes them: demand in ALL, ROI and NI every 15 min, SNSP in ALL only
every 30 min. So ALL waits for the SNSP forecast of ``t`` rounded down to the half hour, and
ROI/NI never wait for an SNSP forecast.

The alerts of a region's series (``alert_fields``, the rebalancer's ``ALERT_FIELDS``) are
awaited through the alert engine's feed watermarks (:mod:`gridstream.bus.alert_feed`), for
the fields the catalogue publishes in that region.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from gridstream.services.grid_rebalancer.context import FIELD_SERIES
from gridstream.sources.catalogue import spec_for_field

#: forecast series the decisions wait for (the policy acts on them)
DECIDE_ON = ("demand", "snsp")
SLOT_MS = 900_000  # the forecaster issues on quarter-hours only
SERIES_FIELD = {series: field for field, series in FIELD_SERIES.items()}


@dataclasses.dataclass(frozen=True)
class JoinInputs:
    """``forecast_fields``: the fields the forecaster forecasts (its ``field_set()``); a
    :data:`DECIDE_ON` series is awaited in a region when its field is among them and the
    catalogue publishes it there (a field unknown to the catalogue: everywhere, 15 min)."""

    forecast_fields: frozenset[str] = frozenset(SERIES_FIELD[s] for s in DECIDE_ON)
    #: fields whose alerts origin ``t`` waits for (empty: alerts apply as they arrive)
    alert_fields: frozenset[str] = frozenset()
    #: per region, what it awaits: fixed by the fields, and read several times per record
    _alert_series: dict[str, Sequence[str]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _forecasts: dict[str, Mapping[str, int]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def alert_series(self, region: str) -> Sequence[str]:
        """The series of ``region`` whose alert watermark origin ``t`` waits for."""
        known = self._alert_series.get(region)
        if known is None:
            known = self._alert_series[region] = self._find_alert_series(region)
        return known

    def _find_alert_series(self, region: str) -> list[str]:
        out = []
        for field in sorted(self.alert_fields):
            spec = spec_for_field(field)
            if spec is None or region in spec.regions:
                out.append(f"{region}/{field}")
        return out

    def forecasts(self, region: str) -> Mapping[str, int]:
        """Awaited series of ``region`` -> interval (ms) of their forecast origins."""
        known = self._forecasts.get(region)
        if known is None:
            known = self._forecasts[region] = self._find_forecasts(region)
        return known

    def _find_forecasts(self, region: str) -> dict[str, int]:
        out = {}
        for series in DECIDE_ON:
            field = SERIES_FIELD[series]
            if field not in self.forecast_fields:
                continue
            spec = spec_for_field(field)
            if spec is not None and region not in spec.regions:
                continue
            minutes = spec.interval_minutes if spec is not None else 15
            out[series] = max(SLOT_MS, minutes * 60_000 // SLOT_MS * SLOT_MS)
        return out

    def origin(self, region: str, series: str, t: int) -> int | None:
        """The forecast origin of ``series`` awaited at ``t`` (None: not awaited)."""
        interval = self.forecasts(region).get(series)
        return None if interval is None else t - t % interval
