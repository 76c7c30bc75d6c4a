"""The trainer decides in event time: whatever the interleaving of its input partitions and
the batch boundaries, and across a crash (state restored from what was committed, the
history store and the model registry kept as the crash left them), it publishes the same
ModelUpdates, one per series and checkpoint."""

from __future__ import annotations

import functools
import itertools
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridstream.bus.processor import InRecord, OutRecord
from gridstream.bus.state import StateView
from gridstream.config import Settings
from gridstream.errors import GridstreamError
from gridstream.schemas import model_pb2, readings_pb2
from gridstream.services.trainer.history import SharedHistory
from gridstream.services.trainer.jobs import TrainerSettings
from gridstream.services.trainer.ledger import STATE_CODEC, State
from gridstream.services.trainer.service import TrainerProcessor
from gridstream.store.registry import ModelRegistry

DAY = 86_400_000
SLOT = 900_000
START = 1_646_092_800_000  # 1 Mar 2022 00:00 UTC, a checkpoint
FIELDS = ("SYSTEM_DEMAND", "WIND_ACTUAL", "CO2_INTENSITY")
CONFIG = TrainerSettings(
    regions="ALL",
    series="demand,wind",
    min_history_days=3,
    bootstrap_samples=1500,
    bootstrap_rounds=4,
    samples=1500,
    rounds=4,
    threads=1,
    retrain_every_days=2,
    grace_hours=36,
)
Record = tuple[int, readings_pb2.CleanReading]  # (partition, reading)
MAX_SKEW = 96  # records (a day of one series) a partition may run ahead of the others


def _reading(fld: str, ts: int, value: float) -> readings_pb2.CleanReading:
    sid = f"ALL/{fld}"
    return readings_pb2.CleanReading(
        record_id=f"{sid}@{ts}", series_id=sid, region="ALL", field=fld, ts_ms=ts, value=value
    )


@functools.cache
def partitions(days: int = 8, wind_stops_day: int | None = None) -> tuple[tuple[Record, ...], ...]:
    """Each series in its own partition, in time order; a late reading and a corrected
    duplicate in the demand partition (one before, one after its checkpoint closed)."""
    rng = np.random.default_rng(7)
    slots = np.arange(days * 96)
    shapes = {
        "SYSTEM_DEMAND": 4000 + 800 * np.sin(2 * np.pi * slots / 96),
        "WIND_ACTUAL": 1500 + 900 * np.sin(2 * np.pi * slots / 310),
        "CO2_INTENSITY": 260 + 60 * np.sin(2 * np.pi * slots / 96 + 1),
    }
    out = []
    for p, fld in enumerate(FIELDS):
        values = shapes[fld] + rng.normal(0, 40, len(slots))
        stop = len(slots) if fld != "WIND_ACTUAL" or wind_stops_day is None else wind_stops_day * 96
        records = [(p, _reading(fld, START + i * SLOT, float(values[i]))) for i in range(stop)]
        if fld == "SYSTEM_DEMAND":
            records.insert(5 * 96 + 3, (p, _reading(fld, START + 5 * 96 * SLOT - 2 * SLOT, 1.0)))
            records.insert(4 * 96 + 10, (p, _reading(fld, START + 4 * 96 * SLOT + 2 * SLOT, 9.0)))
        out.append(tuple(records))
    return tuple(out)


class Pipeline:
    """The processor as the runner drives it: batches, a punctuate per batch, commits."""

    def __init__(self, root: Path, config: TrainerSettings = CONFIG) -> None:
        self.root = root
        self.config = config
        self.committed: dict[int, dict[str, bytes]] = {p: {} for p in range(len(FIELDS))}
        self.published: list[model_pb2.ModelUpdate] = []
        self.start()

    def start(self) -> None:
        """A fresh process: state restored from the committed changelog."""
        settings = Settings(state_dir=self.root)
        self.history = SharedHistory(settings.history_store)
        registry = ModelRegistry(self.root / "models")
        self.proc = TrainerProcessor(settings, self.history, self.config, registry)
        self.states: dict[int, StateView[State]] = {}
        for p, entries in self.committed.items():
            view: StateView[State] = StateView(p)
            for key, data in entries.items():
                view.load(key, STATE_CODEC.from_bytes(data))
            self.states[p] = view

    def batch(self, records: Sequence[Record], commit: bool = True) -> None:
        for p, msg in records:
            self.proc.process(InRecord("pre", p, 0, msg.series_id, msg, msg.ts_ms), self.states[p])
        out: list[OutRecord] = list(self.proc.punctuate(0, self.states))
        if not commit:
            return  # a crash before the transaction commits: outputs and state are lost
        self.published += [o.value for o in out]  # type: ignore[misc]
        for p, view in self.states.items():
            for key in list(view.keys()):
                value = view.get(key)
                assert value is not None
                self.committed[p][key] = STATE_CODEC.to_bytes(value)

    def crash(self) -> None:
        self.history.close()
        self.start()

    def drain(self) -> None:
        """Idle batches until nothing more is decided (the per-batch training budget)."""
        while True:
            before = len(self.published)
            self.batch([])
            if len(self.published) == before:
                return

    def close(self) -> None:
        self.history.close()


def _round_robin(parts: Sequence[Sequence[Record]]) -> list[Record]:
    return [r for row in itertools.zip_longest(*parts) for r in row if r is not None]


def _interleave(parts: Sequence[Sequence[Record]], rnd: random.Random) -> list[Record]:
    """One merge of the partitions keeping each one's order, none more than a day of data
    ahead of the slowest (a skew past the grace would decide without the slow input: that
    decision is the grace's, not the data's)."""
    cursors = [0] * len(parts)
    merged: list[Record] = []
    while any(c < len(p) for c, p in zip(cursors, parts, strict=True)):
        live = [i for i, p in enumerate(parts) if cursors[i] < len(p)]
        slowest = min(cursors[i] for i in live)
        i = rnd.choice([i for i in live if cursors[i] - slowest < MAX_SKEW])
        n = rnd.randint(1, slowest + MAX_SKEW - cursors[i])
        merged += parts[i][cursors[i] : cursors[i] + n]
        cursors[i] += n
    return merged


def _normalised(updates: list[model_pb2.ModelUpdate]) -> dict[str, list[bytes]]:
    by_series: dict[str, list[bytes]] = {}
    for u in updates:
        clean = model_pb2.ModelUpdate()
        clean.CopyFrom(u)
        clean.ClearField("trained_at_ms")  # wall clock
        clean.ClearField("uri")  # the run's own registry folder
        by_series.setdefault(u.series_id, []).append(clean.SerializeToString(deterministic=True))
    return by_series


def _run(
    parts: Sequence[Sequence[Record]], rnd: random.Random | None, crash_at: float | None
) -> list[model_pb2.ModelUpdate]:
    with tempfile.TemporaryDirectory() as tmp:
        pipe = Pipeline(Path(tmp))
        merged = _interleave(parts, rnd) if rnd else _round_robin(parts)
        crash = None if crash_at is None else int(len(merged) * crash_at)
        i = 0
        while i < len(merged):
            n = rnd.randint(1, 400) if rnd else 300
            chunk = merged[i : i + n]
            if crash is not None and i <= crash < i + n:
                pipe.batch(chunk, commit=False)
                pipe.crash()
                crash = None
                continue  # the uncommitted batch is read again, maybe cut differently
            pipe.batch(chunk)
            i += n
        pipe.drain()
        pipe.close()
        return pipe.published


@functools.cache
def reference(wind_stops_day: int | None = None) -> tuple[model_pb2.ModelUpdate, ...]:
    return tuple(_run(partitions(wind_stops_day=wind_stops_day), None, None))


def test_one_decision_per_series_and_checkpoint_bootstrap_then_schedule() -> None:
    updates = reference()
    for sid in ("ALL/SYSTEM_DEMAND", "ALL/WIND_ACTUAL"):
        mine = [u for u in updates if u.series_id == sid]
        checkpoints = [u.train_until_ms for u in mine]
        assert checkpoints == [START + d * DAY for d in range(1, 8)]  # the last day: not closed
        reasons = [u.reason.partition(":")[0] for u in mine]
        # three days of data are needed: days 1-3 have no model yet, day 4 bootstraps
        assert reasons[:3] == ["no-model"] * 3 and all(not u.model_version for u in mine[:3])
        assert reasons[3] == "bootstrap" and mine[3].model_version.startswith("20220305T0000Z-")
        assert mine[3].previous_version == "" and len(mine[3].data_hash) == 64
        assert reasons[5] in ("schedule", "drift")  # two days after the bootstrap
        assert all(u.model_version for u in mine[3:])
        assert not any(u.missing_inputs for u in mine)


def test_a_restart_republishes_nothing_and_retrains_nothing() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipe = Pipeline(Path(tmp))
        merged = _round_robin(partitions())
        for i in range(0, len(merged), 300):
            pipe.batch(merged[i : i + 300])
        pipe.drain()
        published = len(pipe.published)
        versions = {v.name for v in (Path(tmp) / "models").glob("*/versions/*")}
        pipe.crash()
        pipe.drain()
        assert len(pipe.published) == published
        assert {v.name for v in (Path(tmp) / "models").glob("*/versions/*")} == versions
        pipe.close()


def test_past_the_grace_the_decision_names_the_missing_input() -> None:
    updates = reference(wind_stops_day=5)  # wind ends on day 5; demand and CO2 go on to 8
    demand = [u for u in updates if u.series_id == "ALL/SYSTEM_DEMAND"]
    by_checkpoint = {(u.train_until_ms - START) // DAY: list(u.missing_inputs) for u in demand}
    assert by_checkpoint[4] == []
    # days 5 and 6 are decided once the others are 36 h of data past them; day 7 never is
    assert by_checkpoint[5] == by_checkpoint[6] == ["ALL/WIND_ACTUAL"]
    assert 7 not in by_checkpoint


def test_a_feed_gap_longer_than_every_window_is_decided_without_readings() -> None:
    """Every feed stops after day 8 and comes back on day 30, so the days between are decided
    once the readings of day 30 arrive. Retrains there read the old data, and a drift check
    after one has no reading since it (its window is empty): no drift, not a crash."""
    config = CONFIG.model_copy(update={"drift_min_days": 1.0})
    back = 30 * DAY
    late = [(p, _reading(FIELDS[p], START + back, 100.0)) for p in range(len(FIELDS))]
    with tempfile.TemporaryDirectory() as tmp:
        pipe = Pipeline(Path(tmp), config)
        merged = _round_robin(partitions())
        for i in range(0, len(merged), 300):
            pipe.batch(merged[i : i + 300])
        pipe.batch(late)
        pipe.drain()
        pipe.close()
    demand = {
        (u.train_until_ms - START) // DAY: u
        for u in pipe.published
        if u.series_id == "ALL/SYSTEM_DEMAND"
    }
    assert sorted(demand) == list(range(1, 31))  # every watermark is at day 30
    gap = [demand[d] for d in range(9, 30)]
    assert all(u.model_version and not u.missing_inputs for u in gap)
    assert [u.reason for u in gap].count("keep") >= 5  # drift checks on empty windows


def test_a_manual_request_retrains_at_the_next_checkpoint() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipe = Pipeline(Path(tmp))
        merged = _round_robin(partitions())
        cut = len(merged) * 5 // 8  # into day 5: the bootstrap model is in force
        pipe.batch(merged[:cut])
        pipe.drain()
        with pytest.raises(GridstreamError):
            pipe.proc.request(["ALL/NOT_A_SERIES"])
        assert pipe.proc.request(["ALL/WIND_ACTUAL"]) == ["ALL/WIND_ACTUAL"]
        pipe.batch([])
        pipe.crash()  # the request was committed with the ledger
        pipe.batch(merged[cut:])
        pipe.drain()
        wind = [u for u in pipe.published if u.series_id == "ALL/WIND_ACTUAL"]
        assert [u.reason.partition(":")[0] for u in wind].count("manual") == 1
        pipe.close()


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), crash_at=st.none() | st.floats(0.05, 0.95))
def test_any_interleaving_and_a_crash_give_the_same_model_updates(
    seed: int, crash_at: float | None
) -> None:
    got = _run(partitions(), random.Random(seed), crash_at)
    assert _normalised(got) == _normalised(list(reference()))
