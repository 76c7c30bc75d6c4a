"""Battery storage optimisation: fleets, the receding-horizon LP, schedules and backtests.

Services call :func:`plan_schedule` with a :class:`BatteryFleet`, a :class:`HorizonForecast`
and :class:`ObjectiveWeights`; it returns a :class:`ScheduleResult` and never raises.
"""

from gridstream.core.storage.fleet import (
    BatteryFleet,
    FleetConfig,
    FleetConfigError,
    load_fleet_config,
    parse_fleet_config,
)
from gridstream.core.storage.horizon import HorizonForecast, Quantiles
from gridstream.core.storage.objectives import OBJECTIVES, ObjectiveWeights, preset
from gridstream.core.storage.planner import plan_schedule
from gridstream.core.storage.schedule import ScheduleResult, hold_schedule, limit_violations

__all__ = [
    "OBJECTIVES",
    "BatteryFleet",
    "FleetConfig",
    "FleetConfigError",
    "HorizonForecast",
    "ObjectiveWeights",
    "Quantiles",
    "ScheduleResult",
    "hold_schedule",
    "limit_violations",
    "load_fleet_config",
    "parse_fleet_config",
    "plan_schedule",
    "preset",
]
