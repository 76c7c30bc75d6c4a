"""A self-contained, counted replay through ingest and clean (``ingest replay --count-clean``).

Uses the configured broker when it answers, or starts a temporary one (a LocalCluster in a
temporary directory on a free port). Topics get a random prefix, the preprocessor runs in a
thread with its own consumer group, the folder is replayed through the ingestor, and when the
preprocessor has consumed every raw reading the clean and dead-letter topics are counted with
``read_committed``. Everything created is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from gridstream.bus.admin import Admin
from gridstream.bus.reader import CommittedCounter
from gridstream.bus.state import changelog_topic
from gridstream.config import Settings
from gridstream.errors import BrokerError
from gridstream.services.ingestor.jobs import ReplayJob
from gridstream.services.ingestor.runs import Progress
from gridstream.services.ingestor.service import Ingestor
from gridstream.services.ingestor.settings import IngestSettings
from gridstream.services.ingestor.sink import watermark_topic
from gridstream.services.preprocessor.service import SERVICE, preprocessor_runner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayCount:
    raw_readings: int
    clean_readings: int
    dead_letters: int
    system_events: int
    seconds: float
    readings_per_s: float
    temporary_broker: bool
    bootstrap: str


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[tuple[str, bool]]:
    """The configured broker if it answers, else a temporary local one: (bootstrap, temporary)."""
    kafka = settings.kafka()
    if Admin(kafka, quiet=True).reachable(timeout=3.0):
        yield kafka.bootstrap, False
        return
    if settings.external_cluster:
        raise BrokerError(f"GRIDSTREAM_BOOTSTRAP={settings.bootstrap} does not answer: start it")
    from gridstream.broker.cluster import LocalCluster, jvm_flags
    from gridstream.broker.ports import free_ports

    with tempfile.TemporaryDirectory(prefix="gridstream-kafka-") as tmp:
        jvm = jvm_flags(settings.broker.jvm_options)
        cluster = LocalCluster(Path(tmp), port=free_ports(1)[0], jvm_options=jvm)
        log.info("no broker answers at %s: starting a temporary one", kafka.bootstrap)
        state = cluster.start()
        try:
            yield state.bootstrap, True
        finally:
            cluster.stop()


def _consumed(runner_registry: object, topic: str) -> float:
    value = runner_registry.get_sample_value(  # type: ignore[attr-defined]
        "gridstream_records_in_total", {"service": SERVICE, "topic": topic}
    )
    return float(value or 0.0)


def _count(settings: Settings, topic: str, quiet_s: float = 1.0) -> int:
    counter = CommittedCounter(settings.kafka(), topic)
    try:
        last, since = -1, time.monotonic()
        while True:
            total = counter.poll(0.5)
            if total != last:
                last, since = total, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return total
    finally:
        counter.close()


def count_replay(
    base: Settings,
    path: Path,
    *,
    regions: tuple[str, ...] = (),
    areas: tuple[str, ...] = (),
    speed: float | None = None,
    progress: Progress | None = None,
    timeout_s: float = 1800.0,
) -> ReplayCount:
    """Replay ``path`` through ingestor and preprocessor on a scratch set of topics; count."""
    with broker_for(base) as (bootstrap, temporary):
        prefix = f"replay-{uuid.uuid4().hex[:8]}-"
        settings = base.model_copy(
            update={"bootstrap": bootstrap, "topics": base.topics.with_prefix(prefix)}
        )
        group = f"gridstream-{prefix}preprocessor"
        runner = preprocessor_runner(settings, group=group)
        thread = threading.Thread(target=runner.run, name="preprocessor", daemon=True)
        ingestor = Ingestor(settings, IngestSettings(source="idle"))
        try:
            ingestor.open()
            thread.start()
            started = time.monotonic()
            raw = ingestor.execute(ReplayJob(path, speed, None, None, regions, areas), progress)
            deadline = time.monotonic() + timeout_s
            while _consumed(runner.registry, settings.topics.raw) < raw:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise BrokerError("the preprocessor stopped before consuming every reading")
                time.sleep(0.1)
            seconds = time.monotonic() - started
            runner.stop()
            thread.join(60)
            result = ReplayCount(
                raw_readings=raw,
                clean_readings=_count(settings, settings.topics.preprocessed),
                dead_letters=_count(settings, settings.topics.dead_letter),
                system_events=_count(settings, settings.topics.system_events),
                seconds=round(seconds, 2),
                readings_per_s=round(raw / seconds, 1) if seconds > 0 else 0.0,
                temporary_broker=temporary,
                bootstrap=bootstrap,
            )
        finally:
            runner.stop()
            ingestor.sink.close()
            thread.join(60) if thread.is_alive() else None
            if not temporary:
                names = [*settings.topics.all().values(), changelog_topic(group)]
                names.append(watermark_topic(settings.topics.raw))
                with contextlib.suppress(BrokerError):
                    existing = set(Admin(settings.kafka()).describe().topics)
                    Admin(settings.kafka()).delete_topics([n for n in names if n in existing])
        return result


def as_dict(result: ReplayCount) -> dict[str, object]:
    return asdict(result)
