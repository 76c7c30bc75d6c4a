"""One run of the pipeline on the verification's temporary cluster: start, replay, faults, read.

A :class:`PipelineRun` owns the service processes it starts (free HTTP ports, state in
``root/state``, logs in ``root/logs``) and its topics (the run's own prefix). Leaving the
``with`` block stops the processes, also after an error; the cluster belongs to the caller.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from gridstream.broker.cluster import LocalCluster, pid_alive
from gridstream.broker.ports import free_ports
from gridstream.bus.admin import Admin
from gridstream.bus.alert_feed import alert_feed_topic
from gridstream.bus.reader import CommittedCounter, read_topic
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.topics import MESSAGE_TYPES, TopicNames, TopicSpec, topic_specs
from gridstream.verify.broker import fresh_changelogs, kafka_of
from gridstream.verify.compare import Records
from gridstream.verify.faults import Fault
from gridstream.verify.identity import identify, message_class
from gridstream.verify.pipeline import INGESTOR, service_env
from gridstream.verify.processes import ServiceProcess, VerifyError

log = logging.getLogger(__name__)
UNSETTLED_PATIENCE_S = 100.0
COMPACT = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class RunConfig:
    services: tuple[str, ...]
    replay_path: Path
    speed: float | None
    prefix: str
    nodes: int = 1
    partitions: int = 3
    instances: Mapping[str, int] = field(default_factory=dict)
    quiet_s: float = 5.0
    timeout_s: float = 900.0
    models: Path | None = None  # a model registry copied to <state>/models


@dataclass
class RunResult:
    outputs: dict[str, Records]
    counts: dict[str, int]
    replay_s: float
    total_s: float
    settled: bool
    processes: dict[str, dict[str, Any]]
    faults: list[dict[str, Any]]


class PipelineRun:
    def __init__(self, root: Path, config: RunConfig, cluster: LocalCluster) -> None:
        self.root = root
        self.config = config
        self.topics = TopicNames().with_prefix(config.prefix)
        self.cluster = cluster
        self.kafka: KafkaSettings = kafka_of(cluster)
        self.processes: list[ServiceProcess] = []
        self.fault_log: list[dict[str, Any]] = []

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> PipelineRun:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        replication = min(self.config.nodes, 3)
        if self.config.models is not None:
            shutil.copytree(self.config.models, self.root / "state" / "models")
        fresh_changelogs(self.kafka, self.config.services, self.config.partitions, replication)
        # the services' own internal topics too: created here with the cluster's replication
        # (the ingestor's watermark topic would otherwise get replication factor 1)
        internal = [
            TopicSpec(f"{self.topics.raw}-ingestor-watermarks", 1, replication, COMPACT),
            TopicSpec(f"{self.topics.ml_ready}-by-region", self.config.partitions, replication),
            TopicSpec(alert_feed_topic(self.topics), self.config.partitions, replication),
        ]
        Admin(self.kafka).ensure_topics(
            [*topic_specs(self.topics, self.config.partitions, replication), *internal]
        )
        env = service_env(
            self.kafka.bootstrap,
            self.topics,
            self.root / "state",
            self.config.replay_path,
            self.config.speed,
            replication,
            self.config.services,
        )
        names = [s for s in self.config.services if s != INGESTOR]
        labels = [(n, str(i)) for n in names for i in range(self.config.instances.get(n, 1))]
        ports = free_ports(len(labels) + 1)
        for (name, instance), port in zip(labels, ports, strict=False):
            log_file = self.root / "logs" / f"{name}-{instance}.log"
            self.processes.append(ServiceProcess(name, port, env, log_file, instance))
        self.ingestor = ServiceProcess(
            INGESTOR, ports[-1], env, self.root / "logs" / f"{INGESTOR}.log"
        )
        for proc in self.processes:
            proc.start()
        for proc in self.processes:
            proc.wait_ready()

    def close(self) -> None:
        started = time.monotonic()
        procs = [*self.processes, *([self.ingestor] if hasattr(self, "ingestor") else [])]
        for proc in procs:
            proc.terminate()  # all at once: each finishes its batch and closes in parallel
        for proc in procs:
            try:
                proc.stop()
            except Exception:  # keep stopping the others
                log.exception("could not stop %s", proc.label)
        log.info("stopped %d processes in %.1fs", len(procs), time.monotonic() - started)

    def process(self, label: str) -> ServiceProcess:
        for proc in [self.ingestor, *self.processes]:
            if label in (proc.label, proc.name):
                return proc
        raise VerifyError(f"no process {label!r} in this run")

    # ---- faults ----------------------------------------------------------------------------
    def inject(self, fault: Fault, started: float) -> None:
        record = {**asdict(fault), "done_at_s": round(time.monotonic() - started, 2)}
        if fault.kind == "kill":
            proc = self.process(fault.target)
            proc.kill()
            if fault.restart:
                proc.start()
        elif fault.kind == "broker-restart":
            self._restart_node(int(fault.target))
        elif fault.kind == "kill-broker":
            self.cluster.kill_node(int(fault.target))
        else:
            raise VerifyError(f"unknown fault {fault.kind!r}")
        log.info("fault %s %s at %.1fs", fault.kind, fault.target, record["done_at_s"])
        self.fault_log.append(record)

    def _restart_node(self, node_id: int, down_s: float = 3.0) -> None:
        """Stop one node cleanly (SIGTERM), keep it down a moment, start it again."""
        state = self.cluster.read_state()
        if state is None:
            raise VerifyError("the run's broker is not running")
        node = next(n for n in state.nodes if n.node_id == node_id)
        os.kill(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while pid_alive(node.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(node.pid, os.WNOHANG)
            time.sleep(0.1)
        if pid_alive(node.pid):
            self.cluster.kill_node(node_id)
        time.sleep(down_s)
        self.cluster.restart_node(node_id)

    # ---- the replay ------------------------------------------------------------------------
    def replay(
        self, faults: Sequence[Fault] = (), expected: Mapping[str, int] | None = None
    ) -> RunResult:
        """Start the ingestor's replay, inject ``faults``, wait until the outputs settle."""
        started = time.monotonic()
        self.ingestor.start()
        pending = list(faults)
        counters = {n: CommittedCounter(self.kafka, t) for n, t in self.topics.all().items()}
        counts: dict[str, int] = {}
        replay_s = 0.0
        settled = False
        last_change = time.monotonic()
        try:
            while time.monotonic() - started < self.config.timeout_s:
                fresh = {}
                for name, counter in counters.items():  # each poll may block ~0.2 s
                    if self._tick(pending, started):
                        last_change = time.monotonic()
                    fresh[name] = counter.poll(0.2)
                now = time.monotonic() - started
                if self._restart_failed_replay():
                    last_change = time.monotonic()
                if fresh != counts:
                    counts, last_change = fresh, time.monotonic()
                    log.debug("committed records at %.1fs: %s", now, counts)
                if pending or not self._replay_finished():
                    continue
                replay_s = replay_s or now
                reached = expected is None or all(
                    counts.get(n, 0) >= v for n, v in expected.items()
                )
                if not self._all_ready():  # a restarted or reconnecting service will
                    last_change = time.monotonic()  # still (re)process records
                    continue
                quiet = time.monotonic() - last_change
                if quiet < self.config.quiet_s:
                    continue
                # short of the expected counts: give a SIGKILLed member's partitions time to
                # move. Its session times out after 10 s, but its open transaction (another
                # transactional id, so nobody fences it) holds the partitions' committed
                # offsets and the output's last stable offset until the broker aborts it at
                # transaction.timeout.ms (60 s); only then does the new owner go on.
                if reached or quiet >= max(6 * self.config.quiet_s, UNSETTLED_PATIENCE_S):
                    settled = reached
                    break
        finally:
            for counter in counters.values():
                counter.close()
        if not settled:
            log.warning("the outputs did not settle at the expected counts: %s", counts)
        read_started = time.monotonic()
        outputs = self.read_outputs()
        log.info("read %d topics in %.1fs", len(outputs), time.monotonic() - read_started)
        return RunResult(
            outputs=outputs,
            counts={n: len(r) for n, r in outputs.items()},
            replay_s=round(replay_s, 2),
            total_s=round(time.monotonic() - started, 2),
            settled=settled,
            processes={p.label: p.summary() for p in [self.ingestor, *self.processes]},
            faults=list(self.fault_log),
        )

    def _tick(self, pending: list[Fault], started: float) -> bool:
        """Inject the faults that are due and restart crashed processes; True if any."""
        acted = False
        while pending and pending[0].at_s <= time.monotonic() - started:
            self.inject(pending.pop(0), started)
            acted = True
        for proc in [self.ingestor, *self.processes]:
            acted = proc.restart_if_crashed() or acted
        return acted

    def _restart_failed_replay(self) -> bool:
        """A replay job that failed (say, a commit timed out while the broker was down) is
        not retried by the ingestor: restart the process like an operator would (it resumes
        after its committed watermarks) and count it as a crash."""
        status = self.ingestor.json("/status")
        if not (isinstance(status, dict) and status.get("state") == "failed"):
            return False
        self.ingestor.crashes += 1
        self.ingestor.crash_lines.append(f"replay failed: {status.get('last_error')}")
        log.warning("the ingestor's replay failed (%s): restarting it", status.get("last_error"))
        self.ingestor.kill()
        self.ingestor.kills -= 1  # not a planned fault
        self.ingestor.start()
        return True

    def _all_ready(self) -> bool:
        return all(p.ready() for p in self.processes if p.proc is not None)

    def _replay_finished(self) -> bool:
        status = self.ingestor.json("/status")
        return isinstance(status, dict) and status.get("state") == "finished"

    def read_outputs(self) -> dict[str, Records]:
        """Every pipeline topic, committed records only, as (identity, content) in order."""
        out: dict[str, Records] = {}
        for logical, name in self.topics.all().items():
            cls = message_class(MESSAGE_TYPES[logical])
            records = read_topic(self.kafka, name, cls, timeout_s=120)
            if records:
                ordered = sorted(records, key=lambda r: (r.partition, r.offset))
                out[logical] = [identify(r.value, self.config.prefix) for r in ordered]
        return out
