"""Feature units: series state (gaps, late readings, serialisation), calendar (DST, holidays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridstream.core.features import SLOT_MS, SeriesState, StateError, calendar_features
from gridstream.core.features.window_features import window_features

T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def test_skipped_slots_become_gaps_and_reset_time_since_gap() -> None:
    state = SeriesState()
    for i in range(10):
        state.update(T0 + i * SLOT_MS, float(i))
    state.update(T0 + 13 * SLOT_MS, 13.0)  # slots 10..12 missing
    window = state.window()
    assert np.isnan(window[-4:-1]).all()
    assert window[-1] == 13.0 and window[-5] == 9.0
    feats = window_features(window[np.newaxis, :])
    assert feats["since_gap_min"][0] == 15.0
    assert feats["lag_4"][0] == 9.0
    assert np.isnan(feats["lag_1"][0])
    assert feats["roll_mean_4"][0] == 13.0  # gaps ignored, not zero-filled


def test_late_reading_fills_its_slot_and_too_old_is_refused() -> None:
    state = SeriesState()
    state.update(T0, 1.0)
    state.update(T0 + 2 * SLOT_MS, 3.0)
    assert state.update(T0 + SLOT_MS, 2.0)
    assert state.window()[-3:].tolist() == [1.0, 2.0, 3.0]
    assert state.last_ts_ms == T0 + 2 * SLOT_MS
    assert not state.update(T0 - 10_000 * SLOT_MS, 5.0)
    assert state.value_at(T0 + SLOT_MS) == 2.0


def test_state_round_trips_through_bytes_and_rejects_garbage() -> None:
    state = SeriesState()
    for i in range(800):
        state.update(T0 + i * SLOT_MS, float(i % 17))
    restored = SeriesState.from_bytes(state.to_bytes())
    np.testing.assert_array_equal(restored.window(), state.window())
    assert restored.last_ts_ms == state.last_ts_ms
    restored.update(T0 + 800 * SLOT_MS, 1.0)
    assert restored.window()[-2] == state.window()[-1]
    with pytest.raises(StateError):
        SeriesState.from_bytes(b"not a state")
    with pytest.raises(StateError):
        SeriesState.from_bytes(state.to_bytes()[:-8])


def test_calendar_follows_irish_local_time_across_spring_dst() -> None:
    # 27 Mar 2022: 01:00 UTC is 02:00 IST (clocks go forward)
    ts = pd.DatetimeIndex(["2022-03-27 00:45", "2022-03-27 01:00"], tz="UTC")
    cal = calendar_features(ts)
    assert cal["hour"].tolist() == [0.0, 2.0]
    assert cal["is_dst"].tolist() == [0.0, 1.0]
    assert cal["quarter_of_day"].tolist() == [3.0, 8.0]


def test_calendar_repeats_the_hour_on_autumn_dst() -> None:
    # 30 Oct 2022: 00:00 UTC is 01:00 IST and 01:00 UTC is 01:00 GMT
    ts = pd.DatetimeIndex(["2022-10-30 00:00", "2022-10-30 01:00"], tz="UTC")
    cal = calendar_features(ts)
    assert cal["hour"].tolist() == [1.0, 1.0]
    assert cal["is_dst"].tolist() == [1.0, 0.0]


def test_irish_and_northern_irish_holidays() -> None:
    ts = pd.DatetimeIndex(
        ["2022-03-17 12:00", "2022-07-12 12:00", "2022-08-01 12:00", "2022-03-18 12:00"],
        tz="UTC",
    )
    cal = calendar_features(ts)
    assert cal["holiday_ie"].tolist() == [1.0, 0.0, 1.0, 1.0]  # St Patrick's, -, Aug BH, 2022 extra
    assert cal["holiday_ni"].tolist() == [1.0, 1.0, 0.0, 0.0]  # the Twelfth is NI only
    assert cal["holiday_ie_d1"].tolist() == [0.0, 0.0, 0.0, 1.0]
    # late evening UTC in summer is already the next local day
    late = calendar_features(pd.DatetimeIndex(["2022-03-16 23:30"], tz="UTC"))
    assert late["holiday_ie"][0] == 0.0  # 16 Mar 23:30 UTC = 23:30 GMT, still the 16th
    summer = calendar_features(pd.DatetimeIndex(["2022-07-31 23:30"], tz="UTC"))
    assert summer["holiday_ie"][0] == 1.0  # 00:30 IST on 1 Aug, the August bank holiday


def test_irish_substitute_days_and_good_friday_are_days_off() -> None:
    days = [
        "2022-01-03",  # New Year's Day fell on a Saturday
        "2022-01-04",
        "2021-12-27",  # Christmas Day on a Saturday
        "2021-12-28",  # St Stephen's Day on a Sunday: the next free weekday
        "2022-12-27",  # Christmas Day on a Sunday; the 26th is St Stephen's own day
        "2019-03-18",  # St Patrick's Day on a Sunday
        "2022-04-15",  # Good Friday
        "2022-04-14",
    ]
    cal = calendar_features(pd.DatetimeIndex([f"{d} 12:00" for d in days], tz="UTC"))
    assert cal["holiday_ie"].tolist() == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert cal["holiday_ie_d1"].tolist()[:2] == [0.0, 1.0]  # the day after the substitute
    # Northern Ireland keeps its own calendar: the one-off Irish holiday is not its
    nie = calendar_features(pd.DatetimeIndex(["2022-03-18 12:00"], tz="UTC"))
    assert nie["holiday_ni"][0] == 0.0
