"""Latency of a chain of bare exactly-once hops: how a batching policy adds up over hops.

Run: .venv/bin/python benchmarks/hop_chain.py [--hops 6] [--rate 100] [--linger-ms 20]
     [--mode paced|first] [--seconds 25]

Starts a temporary broker, then ``--hops`` processes, each a consume-transform-produce loop
with Kafka transactions (``read_committed`` in, transactional out, offsets in the
transaction) passing records from topic ``T<i>`` to ``T<i+1>`` untouched. Records are produced
into ``T0`` at ``--rate`` per second carrying their send time; a ``read_committed`` tail of the
last topic measures the end-to-end latency. Two batching policies:

- ``first``: after a batch's first record, wait ``--linger-ms`` for more;
- ``paced``: wait for more only until ``--linger-ms`` after the previous batch started (what
  the services' runner does: a record after a quiet spell goes at once).

The measurement runs twice on the same broker and the second round is reported (the first
warms the broker's JIT). Prints one JSON line: p50/p90/p99/max latency and the CPU share of
the broker and of the hop processes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from gridstream.bench.processes import cpu_seconds
from gridstream.broker.cluster import LocalCluster
from gridstream.broker.ports import free_ports
from gridstream.bus.settings import FAST_TXN_RETRY


def hop(bootstrap: str, index: int, linger_s: float, mode: str) -> None:
    """One hop: T<index> -> T<index+1>, one transaction per batch."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"hop-{index}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.subscribe([f"T{index}"])
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": f"hop-{index}",
            "linger.ms": 5,
            "compression.type": "lz4",
            **FAST_TXN_RETRY,
        }
    )
    producer.init_transactions()
    started = 0.0
    while True:
        first = consumer.poll(0.2)
        if first is None or first.error():
            continue
        wait = linger_s if mode == "first" else linger_s - (time.monotonic() - started)
        batch = [first, *consumer.consume(1000, max(0.0, wait))]
        started = time.monotonic()
        producer.begin_transaction()
        offsets: dict[tuple[str, int], int] = {}
        for msg in batch:
            producer.produce(f"T{index + 1}", msg.value(), msg.key())
            offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
        producer.send_offsets_to_transaction(
            [TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            consumer.consumer_group_metadata(),
        )
        producer.commit_transaction()


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    n = len(ordered)
    return {f"p{q}": round(ordered[min(n - 1, int(n * q / 100))], 1) for q in (50, 90, 99)} | {
        "max": round(ordered[-1], 1)
    }


def _round(bootstrap: str, hops: int, rate: float, seconds: float, pids: list[int]) -> dict:
    tail = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"tail-{time.monotonic_ns()}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 10,
        }
    )
    tail.subscribe([f"T{hops}"])
    while not tail.assignment():
        tail.poll(0.1)
    time.sleep(2)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    cpu_before = [cpu_seconds(pid) or 0.0 for pid in pids]
    clock = time.monotonic()
    count = int(rate * seconds)
    latencies: list[float] = []
    for i in range(count):
        due = clock + i / rate
        while time.monotonic() < due:
            msg = tail.poll(max(0.0, due - time.monotonic()))
            if msg is not None and not msg.error():
                latencies.append((time.time() - float(msg.value())) * 1000)
        producer.produce("T0", str(time.time()).encode(), str(i % 30).encode())
        producer.poll(0)
    producer.flush()
    deadline = time.monotonic() + 30
    while len(latencies) < count and time.monotonic() < deadline:
        msg = tail.poll(0.5)
        if msg is not None and not msg.error():
            latencies.append((time.time() - float(msg.value())) * 1000)
    window = time.monotonic() - clock
    shares = [
        100 * ((cpu_seconds(pid) or 0.0) - before) / window
        for pid, before in zip(pids, cpu_before, strict=True)
    ]
    tail.close()
    return {
        "records": count,
        "received": len(latencies),
        "latency_ms": _percentiles(latencies),
        "broker_cpu_pct": round(shares[0], 1),
        "hops_cpu_pct": round(sum(shares[1:]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hops", type=int, default=6)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--linger-ms", type=float, default=20.0)
    parser.add_argument("--mode", choices=("paced", "first"), default="paced")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--hop", nargs=2, metavar=("BOOTSTRAP", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hop:
        hop(args.hop[0], int(args.hop[1]), args.linger_ms / 1000, args.mode)
        return
    with tempfile.TemporaryDirectory(prefix="gridstream-hops-") as tmp:
        cluster = LocalCluster(Path(tmp), port=free_ports(1)[0])
        state = cluster.start()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            admin = AdminClient({"bootstrap.servers": state.bootstrap})
            topics = [NewTopic(f"T{i}", 3, 1) for i in range(args.hops + 1)]
            for future in admin.create_topics(topics).values():
                future.result()
            for i in range(args.hops):
                cmd = [sys.executable, __file__, "--hop", state.bootstrap, str(i)]
                cmd += ["--linger-ms", str(args.linger_ms), "--mode", args.mode]
                procs.append(subprocess.Popen(cmd))
            pids = [state.nodes[0].pid, *(p.pid for p in procs)]
            rounds = [_round(state.bootstrap, args.hops, args.rate, args.seconds, pids)]
            rounds.append(_round(state.bootstrap, args.hops, args.rate, args.seconds, pids))
        finally:
            for proc in procs:
                proc.kill()
            cluster.stop()
    result = {k: getattr(args, k) for k in ("hops", "rate", "linger_ms", "mode", "seconds")}
    print(json.dumps(result | {"warm_up": rounds[0], **rounds[1]}))


if __name__ == "__main__":
    main()
