"""smart-ml-preprocessor: ``preprocessed_data`` -> one ``FeatureVector`` per reading on
``ml_ready_data`` (keyed by series id).

Two stages in one runner, both exactly once:

1. ``preprocessed_data`` (keyed by series id) is re-keyed by **region** onto the internal
   repartition topic ``<ml_ready>-by-region`` (created by the service, as many partitions as
   the pipeline topics), so every series of a region lands in one partition;
2. the repartition topic is consumed by the same service: its keyed state holds a
   :class:`~gridstream.services.ml_preprocessor.stream.FeatureSeries` per series, so cross-series
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
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from google.protobuf.message import Message

from gridstream.bus.alignment import STEP_DRIFT_MS, ts_of
from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.runner import Runner
from gridstream.bus.state import StateCodec, StateView
from gridstream.bus.topics import TopicSpec
from gridstream.config import Settings
from gridstream.core.cleaning.cleaner import MAX_TS_MS, MIN_TS_MS
from gridstream.core.features import FEATURE_SET, SeriesState
from gridstream.core.features.grid import VECTOR_BATCH
from gridstream.errors import ValidationError
from gridstream.schemas import features_pb2, readings_pb2
from gridstream.services.base import ensure_internal_topic, make_runner
from gridstream.services.host import ServiceParts
from gridstream.services.ml_preprocessor.stream import (
    MAX_WAIT_MS,
    PEERS,
    Arrival,
    FeatureSeries,
    Released,
    featurise,
    flag_strings,
    peer_ready,
    slot_of,
    snapshot,
)

SERVICE = "smart-ml-preprocessor"
SWEEP_INTERVAL_MS = 10_000
VECTOR_CHUNK = 128  # vectors built at a time (see MlPreprocessor._vectors)


def _wall_ms() -> int:
    return int(time.time() * 1000)


def repartition_topic(settings: Settings) -> str:
    """The internal topic re-keying clean readings by region."""
    return f"{settings.topics.ml_ready}-by-region"


class MlPreprocessor(Processor[FeatureSeries]):
    max_batch = VECTOR_BATCH
    align_drift_ms = STEP_DRIFT_MS
    state_codec = StateCodec(FeatureSeries.to_bytes, FeatureSeries.from_bytes)
    punctuate_interval_s = 0.0  # featurise what a batch released, inside its transaction

    def __init__(self, settings: Settings) -> None:
        self.topics = settings.topics
        self.by_region = repartition_topic(settings)
        self._released: dict[str, Released] = {}  # identity -> reading, in release order
        # the wall clock releases a head without its peers in live mode only
        self._max_wait_ms = MAX_WAIT_MS if settings.clock == "live" else None
        self._last_sweep_ms = 0
        self._peer_keys: dict[str, tuple[tuple[str, str], ...]] = {}  # region -> peer keys

    def event_times(self) -> Mapping[str, Callable[[Message], int]]:
        return {self.topics.preprocessed: ts_of}  # read the series' partitions in step

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
        latest = entry.latest_received_ms
        late = latest is not None and slot_of(clean.ts_ms) < slot_of(latest)
        arrival = Arrival(clean.ts_ms, clean.value, _wall_ms(), late, flag_strings(clean))
        if entry.pending is None and not entry.backlog:
            self._apply(sid, entry, arrival)
        else:  # the head still waits for its peers: keep the order, apply it later
            entry.backlog.append(arrival)
        state.put(sid, entry)
        if clean.field in PEERS:  # a peer moved: any series of the region may be ready
            prefix = f"{clean.region}/"
            self._advance([k for k in state.keys() if k.startswith(prefix)], state)  # noqa: SIM118
        else:
            self._advance([sid], state)

    def _apply(self, sid: str, entry: FeatureSeries, arrival: Arrival) -> None:
        entry.state.update(arrival.ts_ms, arrival.value)
        if arrival.late:  # a late value fills its slot and leaves with value and flags only
            region, _, fld = sid.partition("/")
            item = Released(sid, region, fld, arrival.ts_ms, arrival.value, arrival.flags, None)
            self._released[_key(item)] = item
        else:
            entry.pending = arrival.flags
            entry.pending_since_ms = arrival.arrived_ms

    def _advance(self, keys: list[str], state: StateView[FeatureSeries]) -> None:
        """Release every head whose peers are ready (or that waited too long), applying the
        backlog behind it, until nothing moves (a released peer can unblock the others)."""
        now = _wall_ms()
        moved = True
        while moved:
            moved = False
            for key in keys:
                entry = state.get(key)
                if entry is None:
                    continue
                while entry.pending is not None:
                    # the peers once per look at the head: nothing changes them until it moves
                    peers = self._peers(key, state)
                    why = None
                    if not self._ready(entry, peers):
                        seen = all(p is not None for p in peers.values())
                        why = entry.overdue(now, self._max_wait_ms, seen)
                        if why is None:
                            break
                    self._release(key, entry, state, peers, why)
                    while entry.backlog and entry.pending is None:
                        self._apply(key, entry, entry.backlog.pop(0))
                    state.put(key, entry)
                    moved = True

    def _peers(self, sid: str, state: StateView[FeatureSeries]) -> dict[str, SeriesState | None]:
        region = sid.partition("/")[0]
        keys = self._peer_keys.get(region)
        if keys is None:
            keys = self._peer_keys[region] = tuple((name, f"{region}/{name}") for name in PEERS)
        out: dict[str, SeriesState | None] = {}
        for name, key in keys:
            peer = state.get(key)
            out[name] = peer.state if peer is not None else None
        return out

    @staticmethod
    def _ready(entry: FeatureSeries, peers: dict[str, SeriesState | None]) -> bool:
        ts = entry.state.last_ts_ms
        assert ts is not None
        return all(peer_ready(p, ts) for p in peers.values())

    def _release(
        self,
        sid: str,
        entry: FeatureSeries,
        state: StateView[FeatureSeries],
        peers: dict[str, SeriesState | None],
        peers_missing: str | None = None,
    ) -> None:
        item = snapshot(sid, entry, peers, peers_missing)
        self._released[_key(item)] = item
        entry.pending = None
        state.put(sid, entry)

    def punctuate(
        self, now_ms: int, states: Mapping[int, StateView[FeatureSeries]]
    ) -> Iterable[OutRecord]:
        if now_ms - self._last_sweep_ms >= SWEEP_INTERVAL_MS:  # heads of dead peers leave
            self._last_sweep_ms = now_ms
            for view in states.values():
                self._advance(list(view.keys()), view)
        if not self._released:
            return []
        items = list(self._released.values())
        self._released.clear()
        return self._vectors(items)

    def _vectors(self, items: list[Released]) -> Iterator[OutRecord]:
        """The released readings' vectors, built a chunk at a time as the runner produces
        them (a vector with a feature map cost ~50 KB in Python; packed, ~10 KB while its
        value list lives, so chunks keep a batch's peak small either way)."""
        for start in range(0, len(items), VECTOR_CHUNK):
            chunk = items[start : start + VECTOR_CHUNK]
            for item, packed in zip(chunk, featurise(chunk), strict=True):
                vector = features_pb2.FeatureVector(
                    series_id=item.series_id,
                    region=item.region,
                    field=item.field,
                    ts_ms=item.ts_ms,
                    value=item.value,
                    feature_set=FEATURE_SET,
                    flags=list(item.flags),
                )
                if packed:
                    vector.MergeFromString(packed)
                yield OutRecord(self.topics.ml_ready, item.series_id, vector)

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
    ensure_internal_topic(runner, spec)
    return runner


def build(settings: Settings) -> ServiceParts:
    runner = ml_preprocessor_runner(settings)
    return ServiceParts(
        name=SERVICE,
        worker=runner,
        health=runner.health.snapshot,
        registry=runner.registry,
    )
