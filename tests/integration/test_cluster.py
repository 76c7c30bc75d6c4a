"""A local 3-node KRaft cluster: replication factor 3, min.insync.replicas=2, a node killed."""

from __future__ import annotations

import pytest

from gridstream.broker.cluster import LocalCluster, pid_alive
from gridstream.broker.ports import free_port_block
from gridstream.bus.admin import Admin
from gridstream.bus.producer import MessageProducer
from gridstream.bus.reader import read_topic
from gridstream.bus.settings import KafkaSettings
from gridstream.bus.topics import TopicSpec
from gridstream.schemas.readings_pb2 import RawReading

pytestmark = pytest.mark.integration


def test_three_nodes_survive_the_loss_of_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cluster = LocalCluster(tmp_path / "cluster", port=free_port_block(3), nodes=3, heap_mb=384)
    state = cluster.start(timeout=180)
    try:
        assert len(state.nodes) == 3
        kafka = KafkaSettings(bootstrap=state.bootstrap)
        info = Admin(kafka).describe()
        assert len(info.brokers) == 3
        Admin(kafka).ensure_topics([TopicSpec("replicated", 3, 3, {"min.insync.replicas": "2"})])
        producer = MessageProducer(kafka, transactional_id="cluster-tx")
        for batch in range(6):
            if batch == 3:
                cluster.kill_node(2)  # SIGKILL one broker mid-stream
                assert not pid_alive(state.nodes[1].pid)
            producer.begin()
            for i in range(100):
                n = batch * 100 + i
                producer.send("replicated", f"S{n % 7}", RawReading(record_id=f"r{n}"))
            producer.commit()
        records = read_topic(kafka, "replicated", RawReading, timeout_s=120)
        ids = sorted(int(r.value.record_id[1:]) for r in records)
        assert ids == list(range(600)), "records lost or duplicated after a broker was killed"
        cluster.restart_node(2, timeout=180)
        assert len(Admin(kafka).describe().brokers) == 3
    finally:
        cluster.stop()
    assert cluster.read_state() is None
