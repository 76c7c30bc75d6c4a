"""smart-ml-preprocessor: ``preprocessed_data`` -> one ``FeatureVector`` per reading on
``ml_ready_data`` (keyed by series id).

Two stages in one runner, both exactly once:

1. ``preprocessed_data`` (keyed by series id) is re-keyed by **region** onto the internal
   repartition topic ``<ml_ready>-by-region`` (created by the service, as many partitions as
   the pipeline topics), so every series of a region lands in one partition;
2. the repartition topic is consumed by the same service: its keyed state holds a
   :class:`~gridstream.services.features_stream.FeatureSeries` per series, so cross-series
   features (demand, wind, net demand, wind share at the same slot) see the whole region,
   and more instances split the regions between them (it still scales out).

Every reading of every series gets a vector (the anomaly detector judges them all): features
of the shared pipeline (``gridstream.core.features``) for the head of each series, the latest
value, ``feature_set`` and the clean reading's flags (enum names, plus ``stuck_intervals=N``
and ``gap_before_ms=N`` when non-zero). Late readings older than a series' latest slot carry
value and flags only. Features whose value is unknown (NaN) are left out of the map.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

from google.protobuf.message import Message

from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateCodec, StateView
from gridstream.bus.topics import TopicSpec
from gridstream.config import Settings
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.core.features import FEATURE_SET, SeriesState
from gridstream.errors import ValidationError
from gridstream.schemas import features_pb2, readings_pb2
from gridstream.services.base import make_runner
from gridstream.services.features_stream import (
    PEERS,
    FeatureSeries,
    Released,
    featurise,
    flag_strings,
    peer_ready,
    slot_of,
    snapshot,
)
from gridstream.services.host import ServiceParts

SERVICE = "smart-ml-preprocessor"


def repartition_topic(settings: Settings) -> str:
    """The internal topic re-keying clean readings by region."""
    return f"{settings.topics.ml_ready}-by-region"


class MlPreprocessor(Processor[FeatureSeries]):
    state_codec = StateCodec(FeatureSeries.to_bytes, FeatureSeries.from_bytes)
    punctuate_interval_s = 0.0  # featurise what a batch released, inside its transaction

    def __init__(self, settings: Settings) -> None:
        self.topics = settings.topics
        self.by_region = repartition_topic(settings)
        self._released: dict[str, Released] = {}  # identity -> reading, in release order

    def inputs(self) -> Mapping[str, type[Message]]:
        return {
            self.topics.preprocessed: readings_pb2.CleanReading,
            self.by_region: readings_pb2.CleanReading,
        }

    def process(self, record: InRecord, state: StateView[FeatureSeries]) -> Iterable[OutRecord]:
        clean = record.value
        assert isinstance(clean, readings_pb2.CleanReading)
        if not clean.region or not clean.field:
            raise ValidationError(f"clean reading without region/field: {clean.record_id!r}")
        if not MIN_TS_MS <= clean.ts_ms < MAX_TS_MS or not math.isfinite(clean.value):
            raise ValidationError(
                f"{clean.region}/{clean.field}: bad reading ts={clean.ts_ms} value={clean.value}"
            )
        if record.topic == self.topics.preprocessed:
            return [OutRecord(self.by_region, clean.region, clean)]
        self._on_reading(clean, state)
        return []

    def _on_reading(
        self, clean: readings_pb2.CleanReading, state: StateView[FeatureSeries]
    ) -> None:
        sid = f"{clean.region}/{clean.field}"
        entry = state.get(sid) or FeatureSeries()
        last = entry.state.last_ts_ms
        flags = flag_strings(clean)
        if last is not None and slot_of(clean.ts_ms) < slot_of(last):
            entry.state.update(clean.ts_ms, clean.value)  # a late value fills its slot
            self._release_plain(sid, clean, flags)
        else:
            if entry.pending is not None:  # the series moves on (or corrects its head)
                self._release(sid, entry, state)
            entry.state.update(clean.ts_ms, clean.value)
            entry.pending = flags
        state.put(sid, entry)
        candidates = [sid]
        if clean.field in PEERS:
            prefix = f"{clean.region}/"
            candidates += [k for k in state.keys() if k.startswith(prefix) and k != sid]  # noqa: SIM118
        for key in candidates:
            other = state.get(key)
            if other is not None and other.pending is not None and self._ready(key, other, state):
                self._release(key, other, state)

    @staticmethod
    def _peers(sid: str, state: StateView[FeatureSeries]) -> dict[str, SeriesState | None]:
        region = sid.partition("/")[0]
        out: dict[str, SeriesState | None] = {}
        for name in PEERS:
            peer = state.get(f"{region}/{name}")
            out[name] = peer.state if peer is not None else None
        return out

    def _ready(self, sid: str, entry: FeatureSeries, state: StateView[FeatureSeries]) -> bool:
        ts = entry.state.last_ts_ms
        assert ts is not None
        return all(peer_ready(p, ts) for p in self._peers(sid, state).values())

    def _release(self, sid: str, entry: FeatureSeries, state: StateView[FeatureSeries]) -> None:
        item = snapshot(sid, entry, self._peers(sid, state))
        self._released[_key(item)] = item
        entry.pending = None
        state.put(sid, entry)

    def _release_plain(
        self, sid: str, clean: readings_pb2.CleanReading, flags: tuple[str, ...]
    ) -> None:
        item = Released(sid, clean.region, clean.field, clean.ts_ms, clean.value, flags, None)
        self._released[_key(item)] = item

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[FeatureSeries]]
    ) -> Iterable[OutRecord]:
        if not self._released:
            return []
        items = list(self._released.values())
        self._released.clear()
        out = []
        for item, feats in zip(items, featurise(items), strict=True):
            vector = features_pb2.FeatureVector(
                series_id=item.series_id,
                region=item.region,
                field=item.field,
                ts_ms=item.ts_ms,
                value=item.value,
                features=feats,
                feature_set=FEATURE_SET,
                flags=list(item.flags),
            )
            out.append(OutRecord(self.topics.ml_ready, item.series_id, vector))
        return out

    def on_revoked(self, partitions: list[int]) -> None:
        self._released.clear()  # not committed: the next owner re-reads those records


def _key(item: Released) -> str:
    """Identity of a released reading: a batch replayed after an aborted transaction
    releases the same readings again and must not emit them twice."""
    late = "late" if item.window is None else "head"
    return f"{item.series_id}@{item.ts_ms}:{item.value!r}:{late}:{','.join(item.flags)}"


def ml_preprocessor_runner(settings: Settings, group: str | None = None) -> Runner[FeatureSeries]:
    """The service's runner (also creates the repartition topic); ``group`` isolates tests."""
    runner = make_runner(settings, SERVICE, MlPreprocessor(settings), group=group)
    spec = TopicSpec(
        repartition_topic(settings),
        settings.topic_partitions,
        settings.topic_replication,
        {"retention.ms": str(7 * 86_400_000)},
    )
    runner.config = replace(runner.config, ensure_topics=(*runner.config.ensure_topics, spec))
    return runner


def build(settings: Settings) -> ServiceParts:
    runner = ml_preprocessor_runner(settings)
    return ServiceParts(
        name=SERVICE,
        worker=runner,
        health=runner.health.snapshot,
        registry=runner.registry,
    )
