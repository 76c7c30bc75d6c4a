"""The ingestor's Kafka side: readings, events and watermarks in one transaction.

Watermarks live in a compacted topic next to the raw topic (``<raw>-ingestor-watermarks``),
keyed ``"{scope}|{series_id}"`` with the last ``RawReading`` sent as value. They are written
in the same transaction as the readings, so after any crash the committed watermark is
exactly the newest reading a ``read_committed`` consumer can see: a restart neither leaves a
gap nor sends a reading twice. The topic survives container restarts (no local disk needed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from gridstream.bus.admin import Admin
from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.topics import TopicSpec
from gridstream.schemas import alert_pb2, readings_pb2
from gridstream.sources.watermark import Watermarks

log = logging.getLogger(__name__)


def watermark_topic(raw_topic: str) -> str:
    return f"{raw_topic}-ingestor-watermarks"


class IngestSink:
    """Transactional producer plus the committed watermarks of every scope."""

    def __init__(
        self,
        kafka: KafkaSettings,
        raw_topic: str,
        events_topic: str,
        transactional_id: str,
        topic_specs: Sequence[TopicSpec] = (),
        replication: int = 1,
    ) -> None:
        self.kafka = kafka
        self.raw_topic = raw_topic
        self.events_topic = events_topic
        self.state_topic = watermark_topic(raw_topic)
        self.transactional_id = transactional_id
        self._topic_specs = list(topic_specs)
        self.replication = replication
        self._producer: MessageProducer | None = None
        self._marks: dict[str, Watermarks] = {}
        self.sent = 0

    def open(self) -> None:
        """Create the topics, fence older instances, restore the committed watermarks."""
        specs = [
            *self._topic_specs,
            TopicSpec(self.state_topic, 1, self.replication, self._state_config()),
        ]
        Admin(self.kafka).ensure_topics(specs)
        self._producer = MessageProducer(self.kafka, transactional_id=self.transactional_id)
        self._marks = {}
        for record in read_topic(self.kafka, self.state_topic, readings_pb2.RawReading):
            scope, _, _series = (record.key or "").rpartition("|")
            self._marks.setdefault(scope, Watermarks()).advance(record.value)
        log.info("restored watermarks of %d scopes", len(self._marks))

    def _state_config(self) -> dict[str, str]:
        config = {"cleanup.policy": "compact"}
        if self.replication >= 3:  # as the pipeline topics: survive one broker down
            config["min.insync.replicas"] = "2"
        return config

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(30)
            self._producer = None

    def watermarks(self, scope: str) -> Watermarks:
        """A copy of the committed watermarks of ``scope``."""
        return Watermarks(self._marks.get(scope, Watermarks()).as_dict())

    def scopes(self) -> dict[str, dict[str, int]]:
        return {scope: marks.as_dict() for scope, marks in self._marks.items()}

    def commit(
        self,
        scope: str,
        readings: Sequence[readings_pb2.RawReading],
        events: Iterable[alert_pb2.SystemEvent] = (),
    ) -> None:
        """Send readings (in order), events and the advanced watermarks atomically."""
        producer = self._producer
        if producer is None:
            raise RuntimeError("IngestSink.open() was not called")
        marks = self.watermarks(scope)
        last: dict[str, readings_pb2.RawReading] = {}
        producer.begin()
        try:
            for reading in readings:
                producer.send(self.raw_topic, reading.series_id, reading)
                if marks.is_new(reading):
                    marks.advance(reading)
                    last[reading.series_id] = reading
            for event in events:
                producer.send(self.events_topic, event.labels.get("series_id", event.kind), event)
            for series, reading in sorted(last.items()):
                producer.send(self.state_topic, f"{scope}|{series}", reading)
            producer.commit()
        except Exception:
            try:
                producer.abort()
            except Exception:  # the original error matters more; the producer is rebuilt
                log.exception("aborting the ingest transaction failed")
            raise
        self._marks[scope] = marks
        self.sent += len(readings)
