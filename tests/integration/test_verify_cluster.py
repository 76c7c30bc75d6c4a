"""``gridstream verify exactly-once --nodes 3 --kill-broker``, shortened: one of three brokers
is SIGKILLed mid-replay (RF 3, min.insync.replicas 2, acks=all): nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridstream.verify.exactly_once import ExactlyOnceOptions, verify_exactly_once

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "eirgrid"


def test_a_broker_killed_in_a_three_node_cluster_loses_nothing() -> None:
    if not DATA.exists():
        pytest.skip(f"real data {DATA} is absent (../shared/data beside the repo)")
    report = verify_exactly_once(
        ExactlyOnceOptions(
            data=DATA,
            services=("smart-ingestor", "smart-preprocessor"),
            kills=0,
            nodes=3,
            kill_broker=True,
            days=1,
            replay_s=15.0,
            quiet_s=3.0,
            seed=1,
        )
    )
    assert [f["kind"] for f in report["faulty_run"]["faults"]] == ["kill-broker"]
    assert report["expected"] > 0
    for name in ("raw", "preprocessed"):
        t = report["topics"][name]
        assert t["expected"] > 0
        assert (t["lost"], t["duplicated"], t["unexpected"], t["differing"]) == (0, 0, 0, 0)
