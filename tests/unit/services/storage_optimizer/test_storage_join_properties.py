"""Property: however the demand, wind and CO2 forecasts of a region interleave on the
by-region topic (each series in its own order), with some forecasts missing, punctuation at
any moment and a crash restored from the state codec, the optimiser publishes the same
schedules (ids, steps, issue times, reasons) in the same order as the in-order run."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gridstream.bus.processor import OutRecord
from gridstream.bus.state import StateView
from gridstream.schemas.forecast_pb2 import Forecast
from gridstream.schemas.storage_pb2 import StorageSchedule
from gridstream.services.storage_optimizer.state import REGION_STATE_CODEC, JoinEntry

from .join_helpers import Driver, comparable, forecast, processor

SERIES = ("demand", "wind", "co2")
ORIGINS = 6


def in_order(dropped: frozenset[tuple[str, int]]) -> list[Forecast]:
    return [forecast(s, i) for i in range(ORIGINS) for s in SERIES if (s, i) not in dropped]


def interleave(data: st.DataObject, dropped: frozenset[tuple[str, int]]) -> list[Forecast]:
    """The series merged in a random order, each keeping its own (bursts included)."""
    queues = {s: [forecast(s, i) for i in range(ORIGINS) if (s, i) not in dropped] for s in SERIES}
    merged: list[Forecast] = []
    while any(queues.values()):
        ready = [s for s in SERIES if queues[s]]
        name = data.draw(st.sampled_from(ready))
        take = data.draw(st.integers(1, len(queues[name])))
        merged += queues[name][:take]
        del queues[name][:take]
    return merged


def run(order: list[Forecast], data: st.DataObject | None = None) -> list[OutRecord]:
    """Process ``order`` as one partition; with ``data``: punctuate at random moments and
    crash once (outputs after the last commit are lost, the state is restored from the
    changelog bytes of that commit and the records since are processed again)."""
    d = Driver(processor(), StateView(0))
    if data is None:
        return d.send(order)
    commit = data.draw(st.integers(0, len(order)), label="commit")
    crash = data.draw(st.integers(commit, len(order)), label="crash")
    out = d.send(order[:commit])
    # the changelog at the commit: every entry the records before it changed
    saved = {k: REGION_STATE_CODEC.to_bytes(v) for k, v in d.view.take_dirty() if v is not None}
    lost = d.send(order[commit:crash])
    for _ in range(data.draw(st.integers(0, 2), label="punctuations")):
        assert list(d.proc.punctuate(1_900_000_000_000, {0: d.view})) == []
    del lost  # the aborted transaction's outputs never reach the topic
    view: StateView[JoinEntry] = StateView(0)
    for key, raw in saved.items():
        view.load(key, REGION_STATE_CODEC.from_bytes(raw))
    restarted = Driver(processor(), view)  # a new process: a fresh board, no memory
    assert list(restarted.proc.punctuate(1_900_000_000_000, {0: view})) == []
    return out + restarted.send(order[commit:])


dropped_sets = st.frozensets(
    st.tuples(st.sampled_from(SERIES), st.integers(0, ORIGINS - 1)), max_size=4
)


@settings(max_examples=25, deadline=None)
@given(dropped=dropped_sets, data=st.data())
def test_the_same_schedules_whatever_the_interleaving_and_a_crash(
    dropped: frozenset[tuple[str, int]], data: st.DataObject
) -> None:
    reference = run(in_order(dropped))
    issues = [r.value.issue_time_ms for r in reference if isinstance(r.value, StorageSchedule)]
    assert issues == sorted(set(issues))  # each origin once, oldest first
    complete = {i for i in range(ORIGINS) if not any((s, i) in dropped for s in SERIES)}
    assert len(issues) >= len(complete)  # at least every complete origin is planned
    assert comparable(run(interleave(data, dropped), data)) == comparable(reference)
