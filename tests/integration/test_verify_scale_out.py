"""``gridstream verify scale-out``, shortened: two preprocessor instances in one consumer group
split the partitions; one is SIGKILLed and the other takes over partitions and keyed state."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridstream.verify.scale_out import ScaleOutOptions, verify_scale_out

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"


def test_killing_one_of_two_instances_hands_over_without_loss() -> None:
    if not DATA.exists():
        pytest.skip(f"real data {DATA} is absent (../shared/data beside the repo)")
    report = verify_scale_out(
        ScaleOutOptions(data=DATA, service="preprocessor", days=1, replay_s=15.0, quiet_s=3.0)
    )
    history = report["assignments"]
    # both instances held partitions of the raw topic before the kill ...
    first_0, first_1 = history["0"][0], history["1"][0]
    assert first_1 and len(first_0) + len(first_1) >= 3
    # ... and the survivor ended with every partition the killed one had
    assert set(history["1"][-1]) <= set(history["0"][-1])
    assert report["partitions_shared"] and report["handed_over"]
    topics = report["topics"]
    assert topics["preprocessed"]["expected"] > 0
    for name in ("raw", "preprocessed"):
        t = topics[name]
        runs = {k: report[k] for k in ("clean_run", "faulty_run")}
        assert (t["lost"], t["duplicated"], t["unexpected"], t["differing"]) == (0, 0, 0, 0), (
            name,
            t,
            runs,
        )
    assert report["faulty_run"]["processes"]["smart-preprocessor#1"]["kills"] == 1
