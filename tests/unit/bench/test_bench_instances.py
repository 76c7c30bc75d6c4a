"""``gridstream bench --instances``: parsing, the singletons, and the setup in the comparison."""

from __future__ import annotations

import pytest

from gridstream.bench.compare import same_setup
from gridstream.bench.instances import instance_label, parse_instances
from gridstream.errors import ConfigError


def test_instances_are_parsed_with_or_without_the_prefix() -> None:
    got = parse_instances("anomaly-detector=2, smart-storage-optimizer=3")
    assert got == {"smart-anomaly-detector": 2, "smart-storage-optimizer": 3}
    assert parse_instances(None) == {} and parse_instances("") == {}
    assert instance_label("smart-anomaly-detector", 0) == "smart-anomaly-detector"
    assert instance_label("smart-anomaly-detector", 1) == "smart-anomaly-detector#2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grid-rebalancer=2", "one instance by design"),
        ("alert-engine=2", "one instance by design"),
        ("model-trainer=2", "one instance by design"),
        ("anomaly-detector", "not service=COUNT"),
        ("anomaly-detector=0", "not service=COUNT"),
        ("ingestor=2", "unknown service"),
        ("nope=2", "unknown service"),
    ],
)
def test_bad_instances_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_instances(text)


def test_a_singleton_at_one_instance_is_accepted() -> None:
    assert parse_instances("grid-rebalancer=1") == {"smart-grid-rebalancer": 1}


def test_the_comparison_says_when_partitions_or_instances_differ() -> None:
    base = {"span": 1, "series": 2, "expected_readings": 3, "latency_rate_per_s": 100.0}
    assert same_setup(dict(base), dict(base)) == []  # an old run: 3 partitions, one each
    wider = {**base, "partitions": 6, "instances": {"smart-anomaly-detector": 2}}
    assert same_setup(wider, base) == ["partitions", "instances"]
    assert same_setup({**base, "partitions": 3, "instances": {}}, base) == []
