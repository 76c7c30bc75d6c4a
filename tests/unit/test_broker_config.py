"""Broker pieces that need no running Kafka: Java detection, properties, cluster ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridstream.broker.cluster import new_cluster_id
from gridstream.broker.java import parse_java_major
from gridstream.broker.ports import free_port_block, free_ports, port_in_use
from gridstream.broker.properties import NodeSpec, render_properties
from gridstream.errors import BrokerError


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "25" 2025-09-16', 25),
    ],
)
def test_java_major_version(output: str, major: int) -> None:
    assert parse_java_major(output) == major


def test_unreadable_java_version_is_a_clear_error() -> None:
    with pytest.raises(BrokerError, match="could not read the Java version"):
        parse_java_major("command not found")


def test_cluster_ids_are_valid_and_never_look_like_options() -> None:
    ids = {new_cluster_id() for _ in range(3000)}
    assert len(ids) == 3000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_three_node_properties_form_one_quorum(tmp_path: Path) -> None:
    nodes = [NodeSpec(i, 9092 + i, 19092 + i, tmp_path / f"n{i}") for i in (1, 2, 3)]
    props = [
        dict(line.split("=", 1) for line in render_properties(n, nodes).splitlines()) for n in nodes
    ]
    voters = {p["controller.quorum.voters"] for p in props}
    assert voters == {"1@127.0.0.1:19093,2@127.0.0.1:19094,3@127.0.0.1:19095"}
    assert {p["node.id"] for p in props} == {"1", "2", "3"}
    assert all(p["offsets.topic.replication.factor"] == "3" for p in props)
    assert all(p["min.insync.replicas"] == "2" for p in props)
    assert all(p["process.roles"] == "broker,controller" for p in props)


def test_single_node_uses_replication_factor_one(tmp_path: Path) -> None:
    node = NodeSpec(1, 9092, 19092, tmp_path)
    props = dict(line.split("=", 1) for line in render_properties(node, [node]).splitlines())
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"


@pytest.mark.parametrize(
    ("cpus", "io", "network"), [(1, 2, 2), (2, 2, 2), (4, 4, 2), (8, 8, 3), (64, 8, 3)]
)
def test_request_threads_follow_the_cores_up_to_kafkas_defaults(
    tmp_path: Path, cpus: int, io: int, network: int
) -> None:
    node = NodeSpec(1, 9092, 19092, tmp_path)
    text = render_properties(node, [node], cpus=cpus)
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert (props["num.io.threads"], props["num.network.threads"]) == (str(io), str(network))


def test_port_in_use_detection() -> None:
    import socket

    port = free_ports(1)[0]
    assert not port_in_use(port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use(port)


def test_listen_ports_stay_out_of_the_ephemeral_range() -> None:
    """A client retrying a stopped broker's port must never be handed that port as its own
    source port (self-connect), which would keep the broker from binding it again."""
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
    low, high = (int(v) for v in text.split())
    ports = free_ports(50) + [free_port_block(3) + i for i in range(3)]
    assert len(set(ports[:50])) == 50
    assert not [p for p in ports if low <= p <= high]


def test_the_managed_broker_runs_quick_jit_unless_configured_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridstream.broker.cluster import QUICK_JIT, LocalCluster, jvm_flags
    from gridstream.broker.fetch import KafkaDistribution
    from gridstream.broker.java import JavaRuntime
    from gridstream.config import load_settings

    java = JavaRuntime(Path("/usr/bin/java"), 17)
    dist = KafkaDistribution("4.1.1", tmp_path / "libs", tmp_path / "log4j2.properties")

    def command(cluster: LocalCluster) -> list[str]:
        cmd = cluster._java_cmd(java, dist, tmp_path / "logs")
        return cmd[: cmd.index("-cp")]  # the JVM's own options

    assert QUICK_JIT == ("-XX:TieredStopAtLevel=1",)
    assert "-XX:TieredStopAtLevel=1" in command(LocalCluster(tmp_path))
    monkeypatch.delenv("GRIDSTREAM_BROKER__JVM_OPTIONS", raising=False)
    assert jvm_flags(load_settings().broker.jvm_options) == QUICK_JIT
    monkeypatch.setenv("GRIDSTREAM_BROKER__JVM_OPTIONS", "")
    chosen = jvm_flags(load_settings().broker.jvm_options)
    assert chosen == ()
    assert not any("Tiered" in a for a in command(LocalCluster(tmp_path, jvm_options=chosen)))
    monkeypatch.setenv("GRIDSTREAM_BROKER__JVM_OPTIONS", "-XX:CICompilerCount=2  -Xss1m")
    chosen = jvm_flags(load_settings().broker.jvm_options)
    assert chosen == ("-XX:CICompilerCount=2", "-Xss1m")
    jvm = command(LocalCluster(tmp_path, jvm_options=chosen))
    assert {"-XX:CICompilerCount=2", "-Xss1m"} <= set(jvm)
    assert "-XX:TieredStopAtLevel=1" not in jvm
