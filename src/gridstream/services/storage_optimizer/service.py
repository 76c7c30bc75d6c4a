"""smart-storage-optimizer: forecasts in, optimal battery schedules out (receding horizon).

Two stages in one processor, so that the service scales out by partition:

1. ``forecast_output`` (keyed ``{region}/{field}``) -> the internal topic
   ``storage_forecasts_by_region`` keyed by region: all series of a region meet on one
   partition.
2. That topic -> keyed state per region (:mod:`.state`): an event-time join. The plan at
   origin ``t`` uses the forecasts of the required series (:func:`required_series`) issued at
   exactly ``t``; origins are planned oldest first, each once, the SoC carried over from the
   previous origin's plan, so the chain of schedules depends on the data alone. An origin is
   planned when all its required forecasts are there; or, with some missing, when every
   required series' watermark (newest issue time) reached it (the missing ones will never
   come), when the newest watermark is more than the grace past it, or (live clock only) when
   the region's forecast input has been idle for ``idle_advance_s``. A missing series is then
   planned on its forecast of the newest earlier origin (none: the hold schedule) and the
   schedule's ``reason`` says which series were missing and why the join stopped waiting.
   The MPC solves (HiGHS) and publishes a ``StorageSchedule`` keyed by region. A failed or
   infeasible solve publishes the hold schedule, a ``SystemEvent`` (``solver_failed``) and a
   log line; it never crashes.

Settings (env): ``GRIDSTREAM_STORAGE_FLEET_FILE`` (TOML/JSON/YAML, default: packaged fleets),
``GRIDSTREAM_STORAGE_OBJECTIVE`` (co2, peak, wind, cost, mixed; default mixed),
``GRIDSTREAM_STORAGE_ROBUSTNESS`` (0..1, default 0.5), ``GRIDSTREAM_STORAGE_SPREAD_WIDENING``
(0..1, default 0), ``GRIDSTREAM_STORAGE_REPARTITION_TOPIC``, ``GRIDSTREAM_STORAGE_JOIN_GRACE_H``
(hours of data time an origin waits for a missing series, default 72).
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
from gridstream.core.storage.solver import reset_warm_starts
from gridstream.errors import ValidationError
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.services.base import ensure_internal_topic, runner_service
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
from gridstream.services.storage_optimizer.state import (
    BY_GRACE,
    BY_WALL_CLOCK,
    BY_WATERMARK,
    REGION_STATE_CODEC,
    Decision,
    JoinEntry,
    RegionJoin,
    RegionState,
)

log = logging.getLogger(__name__)
SERVICE = "smart-storage-optimizer"
REPARTITION_SUFFIX = "storage_forecasts_by_region"
HOUR_MS = 3_600_000
#: Data time an origin waits for a missing series. ``gridstream verify`` replays 14 days in
#: ~40 s (x30,000), so a forecaster killed and restarted lags by ~3 days of data or more (it
#: ran past 72 h once): a week keeps such replays deterministic and bounds the state (at
#: 15-minute origins, at most 672 waiting per region). Live, nothing waits that long: an
#: idle input is let go after ``idle_advance_s`` of wall time. The forecaster may itself hold
#: a vector up to its trainer grace (192 h), so this is a day more than that.
JOIN_GRACE_H = 216.0


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
    join_grace_h: float = Field(JOIN_GRACE_H, gt=0, le=24 * 14)


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


class StorageOptimizerProcessor(Processor[JoinEntry]):
    state_codec = REGION_STATE_CODEC
    punctuate_interval_s = 5.0

    def __init__(
        self,
        topics: TopicNames,
        by_region_topic: str,
        fleets: FleetConfig,
        weights: ObjectiveWeights,
        board: ScheduleBoard,
        *,
        clock: str = "event",
        idle_advance_s: float = 30.0,
        grace_ms: int = int(JOIN_GRACE_H * HOUR_MS),
        horizon_steps: int = HORIZON_STEPS,
    ) -> None:
        self.topics = topics
        self.by_region_topic = by_region_topic
        self.fleets = fleets
        self.weights = weights
        self.required = required_series(weights)
        self.board = board
        self.clock = clock
        self.idle_advance_s = idle_advance_s
        self.grace_ms = grace_ms
        self.horizon_steps = horizon_steps
        self._ignored_regions: set[str] = set()
        #: per region, forecasts seen and (count, wall ms) at the punctuation that last saw
        #: the count change: the live clock's idle test (memory only, never in decisions
        #: unless ``clock == "live"``)
        self._arrivals: dict[str, int] = {}
        self._quiet: dict[str, tuple[int, int]] = {}
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

    def process(self, record: InRecord, state: StateView[JoinEntry]) -> Iterable[OutRecord]:
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
        self, region: str, name: str, forecast: Forecast, state: StateView[JoinEntry]
    ) -> list[OutRecord]:
        self._arrivals[region] = self._arrivals.get(region, 0) + 1
        if name not in self.required:
            return []  # the objective does not plan on it (the join waits for required ones)
        join = RegionJoin(state, region)
        if not join.accept(name, forecast):
            return []  # a duplicate or an older forecast arriving late: its turn has passed
        out = self._decide(join)
        join.save()
        return out

    def _decide(self, join: RegionJoin) -> list[OutRecord]:
        """Plan every origin the data has decided, oldest first."""
        out: list[OutRecord] = []
        while (decision := join.next_decision(self.required, self.grace_ms)) is not None:
            out += self._solve(join, decision)
        return out

    def _join_note(self, decision: Decision, used: Mapping[str, Forecast]) -> str:
        """What the schedule's reason says when a required series was missing at its origin."""
        if not decision.missing:
            return ""
        cause = {
            BY_WATERMARK: "a later forecast came instead",
            BY_GRACE: f"not there within the grace of {self.grace_ms / HOUR_MS:g} h",
            BY_WALL_CLOCK: (
                f"moved on by the wall clock: forecast input idle {self.idle_advance_s:g} s"
            ),
        }[decision.why]
        instead = ", ".join(
            f"{n} from {used[n].forecast_id}" if n in used else f"no {n} forecast yet"
            for n in decision.missing
        )
        return f"missing at this origin: {', '.join(decision.missing)} ({cause}); {instead}"

    def _solve(self, join: RegionJoin, decision: Decision) -> list[OutRecord]:
        current = join.head
        region = current.region
        issue_ms = decision.origin_ms
        fleet = self.fleets.for_region(region)
        default_soc = (
            fleet.initial_soc * fleet.energy_mwh
            if current.schedule is None
            else current.initial_soc_mwh
        )
        used = join.take(decision)
        note = self._join_note(decision, used)
        unplannable = [n for n in decision.missing if n not in used]
        horizon: HorizonForecast | None = None
        try:
            horizon = horizon_from_forecasts(
                used, steps=self.horizon_steps, cache=current.step_tables
            )
        except ValidationError as exc:
            start = issue_ms + STEP_MS
            soc0, _ = carried_over(current.schedule, start, default_soc)
            reason = "; ".join(r for r in (note, f"invalid input: {exc}") if r)
            steps = self.horizon_steps
            result = hold_schedule(fleet, start, steps, soc0, self.weights.name, reason)
        else:
            soc0, net0 = carried_over(current.schedule, horizon.start_ms, default_soc)
            if unplannable:  # a required series has no forecast at all: hold
                result = hold_schedule(
                    fleet, horizon.start_ms, self.horizon_steps, soc0, self.weights.name, note
                )
                result = replace(
                    result, forecast_ids=horizon.ids, model_versions=horizon.model_versions
                )
            else:
                # from a cold solver: HiGHS warm-started from another solve (an earlier
                # origin, another region with the same LP structure, or none after a
                # restart) can end on other bits of the same optimum; a cold start costs
                # ~0.8 ms more per origin and makes the schedule a function of its inputs
                # (the kept instance is reset rather than replaced: the same bits)
                reset_warm_starts()
                result = plan_schedule(fleet, horizon, self.weights, soc0, net0)
                if note:
                    result = replace(
                        result, reason="; ".join(r for r in (note, result.reason) if r)
                    )
        message = schedule_to_proto(result, issue_ms)
        current.schedule = message
        current.initial_soc_mwh = soc0
        self.board.put(PublishedPlan(message.schedule_id, issue_ms, result, horizon))
        if self._solves is not None and self._solve_ms is not None:
            outcome = "fallback" if result.fallback else "optimal"
            self._solves.labels(region, f"{outcome}_partial" if decision.missing else outcome).inc()
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
                "storage %s: schedule %s %s, objective %.1f, %.1f ms%s",
                region,
                message.schedule_id,
                result.status,
                result.objective_value,
                result.solve_ms,
                f" ({note})" if note else "",
            )
        return out

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[JoinEntry]]
    ) -> Iterable[OutRecord]:
        """After a restart, show the restored schedules on the HTTP views. With the live
        clock, also plan a region's oldest waiting origin once its forecast input has been
        idle for ``idle_advance_s`` (the schedule says the wall clock moved it)."""
        out: list[OutRecord] = []
        for view in states.values():
            keys = sorted(view.keys())  # a copy: planning deletes origin entries
            for region in (k for k in keys if isinstance(view.get(k), RegionState)):
                join = RegionJoin(view, region)
                self._show_restored(join.head)
                if self.clock == "live" and join.head.waiting and self._idle(region, now_ms):
                    decision = join.oldest(self.required)
                    if decision is not None:
                        out += self._solve(join, decision)
                        out += self._decide(join)
                        join.save()
        return out

    def _idle(self, region: str, now_ms: int) -> bool:
        """Whether no forecast of the region came in the last ``idle_advance_s`` wall seconds
        (seen from punctuation to punctuation: the wall clock is read nowhere else)."""
        count = self._arrivals.get(region, 0)
        seen = self._quiet.get(region)
        if seen is None or seen[0] != count:
            self._quiet[region] = (count, now_ms)
            return False
        return now_ms - seen[1] >= self.idle_advance_s * 1000.0

    def _show_restored(self, current: RegionState) -> None:
        from gridstream.services.storage_optimizer.messages import schedule_from_proto

        if current.schedule is None:
            return
        shown = self.board.get(current.region)
        if shown is not None and shown.issue_time_ms >= current.schedule.issue_time_ms:
            return
        ids = set(current.schedule.forecast_ids)
        used = {n: f for n, f in current.latest.items() if f.forecast_id in ids}
        horizon: HorizonForecast | None
        try:
            horizon = horizon_from_forecasts(
                used or current.latest, steps=self.horizon_steps, cache=current.step_tables
            )
        except ValidationError:
            horizon = None
        result = schedule_from_proto(current.schedule, current.initial_soc_mwh)
        plan = PublishedPlan(
            current.schedule.schedule_id, current.schedule.issue_time_ms, result, horizon
        )
        self.board.put(plan)


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
    processor = StorageOptimizerProcessor(
        settings.topics,
        topic,
        fleets,
        weights,
        board,
        clock=settings.clock,
        idle_advance_s=settings.idle_advance_s,
        grace_ms=int(own.join_grace_h * HOUR_MS),
    )
    parts, runner = runner_service(settings, name, processor, [schedule_router(board)])
    processor.bind_metrics(runner.registry)
    ensure_internal_topic(
        runner,
        TopicSpec(
            topic,
            settings.topic_partitions,
            settings.topic_replication,
            {"retention.ms": str(86_400_000)},
        ),
    )
    return parts
