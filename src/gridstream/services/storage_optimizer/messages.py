"""Bus messages of the storage optimiser: forecasts in, schedules and health events out.

Converts between the protobuf contracts and the optimiser core (``gridstream.core.storage``):
the forecasts an origin is planned on (one per series) become one :class:`HorizonForecast`
aligned on a 15-minute grid, a :class:`ScheduleResult` becomes a ``StorageSchedule`` and
back (the HTTP view and the SoC carry-over read published schedules).
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Mapping

import numpy as np

from gridstream.core.storage import HorizonForecast, Quantiles, ScheduleResult
from gridstream.core.storage.schedule import STEP_MS
from gridstream.errors import ValidationError
from gridstream.schemas.alert_pb2 import SystemEvent
from gridstream.schemas.common_pb2 import SEVERITY_WARNING
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.schemas.storage_pb2 import StorageSchedule

SERVICE = "smart-storage-optimizer"
HORIZON_STEPS = 96

#: recorded/forecast field -> optimiser series name
FIELD_SERIES: dict[str, str] = {
    "SYSTEM_DEMAND": "demand",
    "WIND_ACTUAL": "wind",
    "CO2_INTENSITY": "co2",
    "PRICE": "price",
}


def series_of(forecast: Forecast) -> str | None:
    """The optimiser series a forecast feeds (None: not one the optimiser uses)."""
    return FIELD_SERIES.get(forecast.field)


def region_of(forecast: Forecast) -> str:
    """The forecast's region, from its field or its series id; ValidationError if neither."""
    region = forecast.region or forecast.series_id.partition("/")[0]
    if not region:
        raise ValidationError(f"forecast {forecast.forecast_id!r} names no region")
    return region


StepTables = dict[str, tuple[Forecast, np.ndarray]]
"""Per series, a forecast and its steps as a ``(time, P10, P50, P90)`` array: a forecast
read in several plans (standing in for a series missing at later origins) is read once."""


#: one step's columns of a step table, read by one C call per step
_STEP_ROW = operator.attrgetter("target_time_ms", "p10", "p50", "p90")
_STEP_TS = operator.attrgetter("ts_ms")


def _step_table(forecast: Forecast, cache: StepTables | None, name: str) -> np.ndarray:
    if cache is not None:
        known = cache.get(name)
        if known is not None and known[0] is forecast:
            return known[1]
    steps = forecast.steps
    if not steps:
        raise ValidationError(f"forecast {forecast.forecast_id} has no steps")
    # the rows of ``steps_by_target`` (sorted by target time, stable), read without a Python
    # tuple per step; sorted only when not strictly in order, on the integer times (as
    # floats, times past 2**53 ms could tie)
    flat = np.fromiter(
        itertools.chain.from_iterable(map(_STEP_ROW, steps)), np.float64, count=4 * len(steps)
    )
    table = flat.reshape(len(steps), 4)
    times = table[:, 0]
    if (times[1:] <= times[:-1]).any():
        order = sorted(range(len(steps)), key=lambda i: steps[i].target_time_ms)
        table = table[order]
    if cache is not None:
        cache[name] = (forecast, table)
    return table


def _ordered(columns: np.ndarray) -> Quantiles:
    """P10/P50/P90 from the rows of ``columns``, crossing ones sorted per step: what
    ``Quantiles.of`` gives for them, without stacking the rows again."""
    stacked = np.sort(columns, axis=0)
    return Quantiles(stacked[0], stacked[1], stacked[2])


def _quantiles_on_grid(table: np.ndarray, grid_ms: np.ndarray) -> Quantiles:
    """A step table's P10/P50/P90 at the grid times (linear in between, held at the ends)."""
    grid = grid_ms.astype(np.float64)
    if len(table) == len(grid) and np.array_equal(table[:, 0], grid):
        # on the grid already (the forecasts of the origin itself): np.interp at a table's
        # own times gives its values exactly
        return _ordered(table[:, 1:].T)
    return _ordered(np.vstack([np.interp(grid, table[:, 0], table[:, j]) for j in (1, 2, 3)]))


def horizon_from_forecasts(
    forecasts: Mapping[str, Forecast], steps: int = HORIZON_STEPS, cache: StepTables | None = None
) -> HorizonForecast:
    """One horizon from one forecast per series, starting at the first target time of
    the newest forecast; every series is read at the same 15-minute step times. ``cache``
    keeps each forecast's steps for the next call (see :data:`StepTables`)."""
    if not forecasts:
        raise ValidationError("no forecasts to plan on")
    names = sorted(forecasts)
    tables = {name: _step_table(forecasts[name], cache, name) for name in names}
    newest = max(forecasts, key=lambda name: forecasts[name].issue_time_ms)
    first = int(tables[newest][0, 0])
    grid = first + STEP_MS * np.arange(steps, dtype=np.int64)
    series = {name: _quantiles_on_grid(tables[name], grid) for name in names}
    ordered = [forecasts[name] for name in names]
    return HorizonForecast(
        start_ms=first,
        series=series,
        ids=tuple(f.forecast_id for f in ordered),
        model_versions=tuple(dict.fromkeys(f.model_version for f in ordered)),
    )


def schedule_id(region: str, issue_time_ms: int) -> str:
    """Deterministic, so a replayed solve publishes the same id."""
    return f"{region}@{issue_time_ms}"


def schedule_to_proto(result: ScheduleResult, issue_time_ms: int) -> StorageSchedule:
    msg = StorageSchedule(
        schedule_id=schedule_id(result.region, issue_time_ms),
        region=result.region,
        issue_time_ms=issue_time_ms,
        objective=result.objective,
        objective_value=float(result.objective_value),
        solver_status=result.status,
        fallback=result.fallback,
        reason=result.reason,
        forecast_ids=list(result.forecast_ids),
        model_versions=list(result.model_versions),
        solve_ms=float(result.solve_ms),
    )
    steps = msg.steps  # plain floats from tolist(), added in place: the cheapest way in
    for ts, c, d, s in zip(
        result.step_times_ms(),
        np.asarray(result.charge_mw, dtype=np.float64).tolist(),
        np.asarray(result.discharge_mw, dtype=np.float64).tolist(),
        np.asarray(result.soc_mwh, dtype=np.float64).tolist(),
        strict=True,
    ):
        steps.add(ts_ms=ts, charge_mw=c, discharge_mw=d, soc_mwh=s)
    return msg


def schedule_from_proto(msg: StorageSchedule, initial_soc_mwh: float) -> ScheduleResult:
    """A published schedule as a ScheduleResult (for the HTTP views)."""
    steps = sorted(msg.steps, key=lambda s: s.ts_ms)
    return ScheduleResult(
        region=msg.region,
        start_ms=steps[0].ts_ms if steps else msg.issue_time_ms,
        objective=msg.objective,
        charge_mw=np.array([s.charge_mw for s in steps], dtype=np.float64),
        discharge_mw=np.array([s.discharge_mw for s in steps], dtype=np.float64),
        soc_mwh=np.array([s.soc_mwh for s in steps], dtype=np.float64),
        initial_soc_mwh=initial_soc_mwh,
        objective_value=msg.objective_value,
        status=msg.solver_status,
        solve_ms=msg.solve_ms,
        fallback=msg.fallback,
        reason=msg.reason,
        forecast_ids=tuple(msg.forecast_ids),
        model_versions=tuple(msg.model_versions),
    )


def carried_over(
    previous: StorageSchedule | None, start_ms: int, default_soc_mwh: float
) -> tuple[float, float]:
    """SoC (MWh) and net power (MW) at ``start_ms`` if the previous schedule ran until then.

    The SoC is the previous schedule's SoC at the end of the last step before ``start_ms``
    (its initial SoC, ``default_soc_mwh`` when the new plan starts before it).
    """
    if previous is None or not previous.steps:
        return default_soc_mwh, 0.0
    steps = previous.steps
    times = list(map(_STEP_TS, steps))
    ordered = sorted(times)  # linear when in order, as published schedules are
    done = bisect.bisect_left(ordered, start_ms)  # steps before ``start_ms``
    if not done:
        return default_soc_mwh, 0.0
    if ordered == times:
        last = steps[done - 1]
    else:  # the step a stable sort by time puts there
        last = steps[sorted(range(len(times)), key=times.__getitem__)[done - 1]]
    return float(last.soc_mwh), float(last.discharge_mw - last.charge_mw)


def fallback_event(msg: StorageSchedule) -> SystemEvent:
    """The health event the alert engine turns into an alert when a hold is published."""
    event = SystemEvent(
        event_id=f"{SERVICE}/solver_failed/{msg.schedule_id}",
        service=SERVICE,
        kind="solver_failed",
        severity=SEVERITY_WARNING,
        message=(
            f"storage optimiser for {msg.region} published a hold schedule: {msg.reason} "
            f"(solver status {msg.solver_status})"
        ),
        ts_ms=msg.issue_time_ms,
    )
    event.labels["region"] = msg.region
    event.labels["objective"] = msg.objective
    event.labels["solver_status"] = msg.solver_status
    event.labels["schedule_id"] = msg.schedule_id
    return event
