"""The dashboard says what it shows: live, a replay of which day and at what pace, a simulation."""

from __future__ import annotations

from browser.pipeline_messages import clean

from gridstream.dashboard.mode import StreamMode
from gridstream.dashboard.state import DashboardState

DEC_3_2022 = 1_670_025_600_000  # 2022-12-03T00:00Z
Q = 900_000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _reading(source: str, ts: int):  # type: ignore[no-untyped-def]
    msg = clean("ALL/SYSTEM_DEMAND", ts, 4000.0)
    msg.source = source
    return ("reading", msg)


def test_a_replay_names_its_day_and_measured_pace() -> None:
    clock = Clock()
    state = DashboardState(mode=StreamMode(clock))
    for i in range(80):  # a quarter-hour of grid time every 3.75 s of wall time: x240
        clock.now = i * 3.75
        state.apply([_reading("replay", DEC_3_2022 + i * Q)])  # 00:00 to 19:45
    mode = state.snapshot()["mode"]
    assert mode["source"] == "replay"
    assert mode["label"] == "replay of 3 Dec 2022, ×240"


def test_live_and_simulation_and_no_data() -> None:
    clock = Clock()
    mode = StreamMode(clock)
    assert mode.describe()["label"] == "waiting for data"
    mode.observe("live", DEC_3_2022)
    assert mode.describe() == {"source": "live", "label": "live", "pace": None}
    sim = StreamMode(clock)
    sim.observe("simulate", DEC_3_2022)
    assert sim.describe()["label"] == "simulation"


def test_the_mode_goes_out_as_a_delta_only_when_its_label_changes() -> None:
    clock = Clock()
    state = DashboardState(mode=StreamMode(clock))
    first = state.apply([_reading("replay", DEC_3_2022)])
    second = state.apply([_reading("replay", DEC_3_2022 + Q)])
    got = state.deltas_since(first - 1)
    assert got is not None
    _, deltas = got
    assert deltas[0]["mode"][0]["label"] == "replay of 3 Dec 2022"
    assert all("mode" not in d for d in deltas[1:]) and second == first + 1


def test_a_restarted_replay_measures_its_pace_afresh() -> None:
    clock = Clock()
    mode = StreamMode(clock)
    for i in range(20):
        clock.now = float(i)
        mode.observe("replay", DEC_3_2022 + i * 3_600_000)  # x3600
    clock.now = 20.0
    mode.observe("replay", DEC_3_2022 - 30 * 86_400_000)  # back to a month earlier
    assert mode.pace() is None
