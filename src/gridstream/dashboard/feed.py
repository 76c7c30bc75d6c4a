"""The dashboard's worker: tails every pipeline topic into the state, probes the services.

Health is truthful: ready only when Kafka answers, partitions are assigned and the loop is
turning. The probe of the other services runs in its own thread so a slow service never
stalls the Kafka tail.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
from google.protobuf.message import Message

from gridstream.bus.health import RunnerHealth
from gridstream.bus.tail import TopicTail
from gridstream.config import Settings
from gridstream.dashboard.settings import DashboardSettings
from gridstream.dashboard.state import DashboardState
from gridstream.errors import BrokerError
from gridstream.schemas import (
    alert_pb2,
    anomaly_pb2,
    dead_letter_pb2,
    forecast_pb2,
    model_pb2,
    readings_pb2,
    rebalance_pb2,
    storage_pb2,
)
from gridstream.stack.probe import RateTracker, probe_service

log = logging.getLogger(__name__)
#: records folded per turn; while a backlog lasts (a replay at full speed) the feed pauses as
#: long as each turn's work took, so it holds the interpreter at most half the time and the
#: HTTP handlers answer at once: the view falls behind the pipeline rather than the page
BATCH = 1000
BUSY_S = 0.01
MAX_PAUSE_S = 0.2


def topic_kinds(settings: Settings) -> dict[str, tuple[str, type[Message]]]:
    """Topic name -> (kind in the state, message type) for every topic the page shows."""
    t = settings.topics
    return {
        t.preprocessed: ("reading", readings_pb2.CleanReading),
        t.forecasts: ("forecast", forecast_pb2.Forecast),
        t.anomalies: ("anomaly", anomaly_pb2.Anomaly),
        t.alerts: ("alert", alert_pb2.Alert),
        t.storage: ("schedule", storage_pb2.StorageSchedule),
        t.rebalance: ("action", rebalance_pb2.RebalanceAction),
        t.dead_letter: ("dead_letter", dead_letter_pb2.DeadLetter),
        t.model_updates: ("model", model_pb2.ModelUpdate),
        t.system_events: ("event", alert_pb2.SystemEvent),
    }


class DashboardFeed:
    """``run()`` until ``stop()``: Kafka -> DashboardState, services -> pipeline health."""

    def __init__(
        self, settings: Settings, options: DashboardSettings, state: DashboardState
    ) -> None:
        self.settings = settings
        self.options = options
        self.state = state
        self.health = RunnerHealth(stall_after_s=30.0)
        self._stop = threading.Event()

    def run(self) -> None:
        kinds = topic_kinds(self.settings)
        tail = TopicTail(
            self.settings.kafka("dashboard"),
            {topic: mtype for topic, (_, mtype) in kinds.items()},
            backlog=self.options.backlog,
        )
        prober = threading.Thread(target=self._probe_loop, name="dashboard-probe", daemon=True)
        prober.start()
        self.health.started()
        refresh_every, turns = 20, 0
        try:
            while not self._stop.is_set():
                if turns % refresh_every == 0:
                    self._refresh(tail)
                turns += 1
                began = time.monotonic()
                records = tail.poll(max_records=BATCH, timeout=0.5)
                if records:
                    self.state.apply((kinds[r.topic][0], r.value) for r in records)
                busy = time.monotonic() - began if records else 0.0
                if busy > BUSY_S:  # a backlog: leave the page's requests room
                    self._stop.wait(min(MAX_PAUSE_S, busy))
                self.health.loop()
        finally:
            tail.close()
            self.health.stopped()

    def _refresh(self, tail: TopicTail) -> None:
        try:
            assigned = tail.refresh_assignment()
        except BrokerError as exc:
            self.health.set_connected(False, str(exc))
            return
        self.health.set_connected(True)
        self.health.set_assigned(assigned)

    def _probe_loop(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per probe is noise
        rates = RateTracker()
        names = self.options.pipeline_services()
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                probes = [
                    rates.update(probe_service(client, n, self.options.url_of(n))).as_dict()
                    for n in names
                ]
                self.state.set_pipeline(probes)
                self._stop.wait(self.options.probe_interval_s)

    def stop(self) -> None:
        self._stop.set()
