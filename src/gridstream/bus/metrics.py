"""Prometheus metrics of one processing runner (one registry per runner)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RunnerMetrics:
    """Consistent names and labels across services: ``gridstream_*`` with ``service``."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.records_in = Counter(
            "gridstream_records_in_total",
            "Records consumed",
            ["service", "topic"],
            registry=registry,
        )
        self.records_out = Counter(
            "gridstream_records_out_total",
            "Records produced",
            ["service", "topic"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "gridstream_dead_letters_total",
            "Records sent to the dead-letter topic",
            ["service", "error_type"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "gridstream_batch_seconds",
            "Time to process and commit one batch",
            ["service"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.record_latency = Histogram(
            "gridstream_processing_latency_seconds",
            "Time from a record's Kafka timestamp to the commit of its outputs",
            ["service"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "gridstream_consumer_lag",
            "Records behind the end of the partition",
            ["service", "topic", "partition"],
            registry=registry,
        )
        self.aborted = Counter(
            "gridstream_transactions_aborted_total",
            "Transactions aborted and retried",
            ["service"],
            registry=registry,
        )
        self.assigned = Gauge(
            "gridstream_assigned_partitions",
            "Partitions assigned to this instance",
            ["service"],
            registry=registry,
        )
        self.alignment_pauses = Counter(
            "gridstream_alignment_pauses_total",
            "Input partitions paused for running too far ahead of the others in event time",
            ["service", "topic"],
            registry=registry,
        )
        self.alignment_paused = Gauge(
            "gridstream_alignment_paused_partitions",
            "Input partitions paused for event-time alignment now",
            ["service"],
            registry=registry,
        )
