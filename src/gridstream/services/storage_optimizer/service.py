"""smart-storage-optimizer: forecasts in, optimal battery schedules out (receding horizon).

Two stages in one processor, so that the service scales out by partition:

1. ``forecast_output`` (keyed ``{region}/{field}``) -> the internal topic
   ``storage_forecasts_by_region`` keyed by region: all series of a region meet on one
   partition.
2. That topic -> keyed state per region (latest forecast of each series, last schedule). When
   every series the objective needs has been forecast up to a newer issue time than the last
   solve (the oldest of their latest forecasts moved on), the MPC solves (HiGHS) from the
   SoC carried over from the previous schedule and publishes a ``StorageSchedule`` keyed by
   region. A failed or infeasible solve publishes the hold schedule, a ``SystemEvent``
   (``solver_failed``) and a log line; it never crashes.

Settings (env): ``GRIDSTREAM_STORAGE_FLEET_FILE`` (TOML/JSON/YAML, default: packaged fleets),
``GRIDSTREAM_STORAGE_OBJECTIVE`` (co2, peak, wind, cost, mixed; default mixed),
``GRIDSTREAM_STORAGE_ROBUSTNESS`` (0..1, default 0.5), ``GRIDSTREAM_STORAGE_SPREAD_WIDENING``
(0..1, default 0), ``GRIDSTREAM_STORAGE_REPARTITION_TOPIC``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateView
from gridstream.bus.topics import TopicNames, TopicSpec
from gridstream.config import Settings
from gridstream.core.storage import (
    FleetConfig,
    HorizonForecast,
    ObjectiveWeights,
    hold_schedule,
    load_fleet_config,
    plan_schedule,
    preset,
)
from gridstream.core.storage.schedule import STEP_MS
from gridstream.errors import ValidationError
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.services.base import runner_service
from gridstream.services.host import ServiceParts
from gridstream.services.storage_optimizer.api import PublishedPlan, ScheduleBoard, schedule_router
from gridstream.services.storage_optimizer.messages import (
    HORIZON_STEPS,
    carried_over,
    fallback_event,
    horizon_from_forecasts,
    region_of,
    schedule_to_proto,
    series_of,
)
from gridstream.services.storage_optimizer.state import REGION_STATE_CODEC, RegionState

log = logging.getLogger(__name__)
SERVICE = "smart-storage-optimizer"
REPARTITION_SUFFIX = "storage_forecasts_by_region"


class StorageSettings(BaseSettings):
    """The optimiser's own settings (prefix ``GRIDSTREAM_STORAGE_``)."""

    model_config = SettingsConfigDict(env_prefix="GRIDSTREAM_STORAGE_", frozen=True, extra="ignore")

    fleet_file: Path | None = None
    objective: str = "mixed"
    # The storage backtest's tuning (robustness 0.2, spread widening 0.6 on the project's
    # forecasts) is for the CO2 objective alone; the default mixed objective keeps the
    # plain robustness price and no widening (both settable).
    robustness: float = Field(0.5, ge=0, le=1)
    spread_widening: float = Field(0.0, ge=0, le=1)
    repartition_topic: str | None = None


def repartition_topic(topics: TopicNames, configured: str | None = None) -> str:
    """The internal by-region topic; it shares the prefix of the storage topic's name."""
    if configured:
        return configured
    base = topics.storage
    if base.endswith("storage_schedule"):
        return base[: -len("storage_schedule")] + REPARTITION_SUFFIX
    return f"{base}-{REPARTITION_SUFFIX}"


def required_series(weights: ObjectiveWeights) -> tuple[str, ...]:
    """The forecast series the objective cannot plan without."""
    need: set[str] = set()
    if weights.co2_eur_per_t > 0:
        need.add("co2")
    if weights.peak_eur_per_mw > 0 or weights.wind_eur_per_mwh > 0:
        need.update(("demand", "wind"))
    if weights.cost_weight > 0:
        need.add("price")
    return tuple(sorted(need))


class StorageOptimizerProcessor(Processor[RegionState]):
    state_codec = REGION_STATE_CODEC
    punctuate_interval_s = 5.0

    def __init__(
        self,
        topics: TopicNames,
        by_region_topic: str,
        fleets: FleetConfig,
        weights: ObjectiveWeights,
        board: ScheduleBoard,
    ) -> None:
        self.topics = topics
        self.by_region_topic = by_region_topic
        self.fleets = fleets
        self.weights = weights
        self.required = required_series(weights)
        self.board = board
        self._ignored_regions: set[str] = set()
        self._solves: Counter | None = None
        self._solve_ms: Histogram | None = None

    def bind_metrics(self, registry: CollectorRegistry) -> None:
        self._solves = Counter(
            "gridstream_storage_solves",
            "Storage schedules published, by region and outcome",
            ["region", "outcome"],
            registry=registry,
        )
        self._solve_ms = Histogram(
            "gridstream_storage_solve_milliseconds",
            "Wall time of one storage optimisation",
            buckets=(1, 2, 5, 10, 20, 50, 100, 250, 1000, 2500),
            registry=registry,
        )

    def inputs(self) -> Mapping[str, type[Forecast]]:
        return {self.topics.forecasts: Forecast, self.by_region_topic: Forecast}

    def process(self, record: InRecord, state: StateView[RegionState]) -> Iterable[OutRecord]:
        forecast = record.value
        if not isinstance(forecast, Forecast):
            raise ValidationError(f"expected a Forecast, got {type(forecast).__name__}")
        name = series_of(forecast)
        if name is None:
            return []  # a series the optimiser does not plan on (e.g. SNSP)
        region = region_of(forecast)
        if region not in self.fleets.fleets:
            if region not in self._ignored_regions:
                self._ignored_regions.add(region)
                log.info("no battery fleet for region %s: its forecasts are ignored", region)
            return []
        if record.topic == self.topics.forecasts:
            return [OutRecord(self.by_region_topic, region, forecast)]
        return self._on_regional(region, name, forecast, state)

    def _on_regional(
        self, region: str, name: str, forecast: Forecast, state: StateView[RegionState]
    ) -> list[OutRecord]:
        current = state.get(region) or RegionState(region)
        known = current.forecasts.get(name)
        if known is not None and known.issue_time_ms > forecast.issue_time_ms:
            return []  # an older forecast arriving late: keep the newer one
        current.forecasts[name] = forecast
        issue = current.complete(self.required)
        out = self._solve(current, issue) if issue is not None else []
        state.put(region, current)
        return out

    def _solve(self, current: RegionState, issue_ms: int) -> list[OutRecord]:
        region = current.region
        fleet = self.fleets.for_region(region)
        default_soc = (
            fleet.initial_soc * fleet.energy_mwh
            if current.schedule is None
            else current.initial_soc_mwh
        )
        usable = {
            n: f
            for n, f in current.forecasts.items()
            if n in self.required or f.issue_time_ms == issue_ms
        }
        horizon: HorizonForecast | None = None
        try:
            horizon = horizon_from_forecasts(usable, cache=current.step_tables)
        except ValidationError as exc:
            start = issue_ms + STEP_MS
            soc0, _ = carried_over(current.schedule, start, default_soc)
            result = hold_schedule(
                fleet, start, HORIZON_STEPS, soc0, self.weights.name, f"invalid input: {exc}"
            )
        else:
            soc0, net0 = carried_over(current.schedule, horizon.start_ms, default_soc)
            result = plan_schedule(fleet, horizon, self.weights, soc0, net0)
        message = schedule_to_proto(result, issue_ms)
        current.schedule = message
        current.initial_soc_mwh = soc0
        current.solved_issue_ms = issue_ms
        self.board.put(PublishedPlan(message.schedule_id, issue_ms, result, horizon))
        if self._solves is not None and self._solve_ms is not None:
            self._solves.labels(region, "fallback" if result.fallback else "optimal").inc()
            self._solve_ms.observe(result.solve_ms)
        out = [OutRecord(self.topics.storage, region, message)]
        if result.fallback:
            log.warning(
                "storage %s: published a hold schedule %s: %s (status %s)",
                region,
                message.schedule_id,
                result.reason,
                result.status,
            )
            out.append(OutRecord(self.topics.system_events, region, fallback_event(message)))
        else:
            log.info(
                "storage %s: schedule %s %s, objective %.1f, %.1f ms",
                region,
                message.schedule_id,
                result.status,
                result.objective_value,
                result.solve_ms,
            )
        return out

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[RegionState]]
    ) -> Iterable[OutRecord]:
        """After a restart, show the restored schedules on the HTTP views."""
        from gridstream.services.storage_optimizer.messages import schedule_from_proto

        for view in states.values():
            for region in list(view.keys()):
                current = view.get(region)
                if current is None or current.schedule is None:
                    continue
                shown = self.board.get(region)
                if shown is not None and shown.issue_time_ms >= current.schedule.issue_time_ms:
                    continue
                horizon: HorizonForecast | None
                try:
                    horizon = horizon_from_forecasts(current.forecasts, cache=current.step_tables)
                except ValidationError:
                    horizon = None
                result = schedule_from_proto(current.schedule, current.initial_soc_mwh)
                plan = PublishedPlan(
                    current.schedule.schedule_id, current.schedule.issue_time_ms, result, horizon
                )
                self.board.put(plan)
        return ()


def _ensure_internal_topic(runner: Runner[RegionState], spec: TopicSpec) -> None:
    runner.config = replace(runner.config, ensure_topics=(*runner.config.ensure_topics, spec))


def build(
    settings: Settings, own: StorageSettings | None = None, name: str = SERVICE
) -> ServiceParts:
    """The optimiser service; invalid fleet files or objectives fail here with a clear error.

    ``name`` sets the consumer group, changelog and transactional id (tests make it unique).
    """
    own = own or StorageSettings()
    fleets = load_fleet_config(own.fleet_file)
    weights = preset(own.objective, own.robustness).model_copy(
        update={"spread_widening": own.spread_widening}
    )
    board = ScheduleBoard(sorted(fleets.fleets))
    topic = repartition_topic(settings.topics, own.repartition_topic)
    processor = StorageOptimizerProcessor(settings.topics, topic, fleets, weights, board)
    parts, runner = runner_service(settings, name, processor, [schedule_router(board)])
    processor.bind_metrics(runner.registry)
    _ensure_internal_topic(
        runner,
        TopicSpec(
            topic,
            settings.topic_partitions,
            settings.topic_replication,
            {"retention.ms": str(86_400_000)},
        ),
    )
    return parts
