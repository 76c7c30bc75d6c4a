"""The SoC carried over from the previous schedule: the end of its last step before the new
start, in time order however the steps are stored."""

from __future__ import annotations

import numpy as np
import pytest

from gridstream.schemas.storage_pb2 import StorageSchedule, StorageStep
from gridstream.services.storage_optimizer.messages import carried_over

T0 = 1_656_633_600_000
STEP = 900_000


def _schedule(order: np.ndarray, times: np.ndarray) -> StorageSchedule:
    msg = StorageSchedule(schedule_id="ALL@1", region="ALL")
    for k in order:
        msg.steps.append(
            StorageStep(
                ts_ms=int(times[k]),
                charge_mw=float(k % 3),
                discharge_mw=float(k % 5),
                soc_mwh=500.0 + k,
            )
        )
    return msg


def _reference(previous: StorageSchedule, start_ms: int, default: float) -> tuple[float, float]:
    """Read the long way: every step sorted by time (stable), the last one before start."""
    done = [s for s in sorted(previous.steps, key=lambda s: s.ts_ms) if s.ts_ms < start_ms]
    if not done:
        return default, 0.0
    return float(done[-1].soc_mwh), float(done[-1].discharge_mw - done[-1].charge_mw)


@pytest.mark.parametrize("seed", range(6))
def test_carry_over_reads_the_last_step_before_the_start_in_time_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    times = T0 + STEP * np.arange(12)
    if seed % 2:
        times[4:7] = times[4]  # steps sharing a time: the later stored one counts
    order = rng.permutation(12) if seed > 1 else np.arange(12)
    previous = _schedule(order, times)
    for start in (T0 - 1, T0, T0 + 1, T0 + 5 * STEP, T0 + 5 * STEP + 1, T0 + 20 * STEP):
        assert carried_over(previous, start, 123.0) == _reference(previous, start, 123.0)
    assert carried_over(previous, T0, 123.0) == (123.0, 0.0)
    assert carried_over(None, T0, 7.0) == (7.0, 0.0)
