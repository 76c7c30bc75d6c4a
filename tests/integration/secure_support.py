"""One secure (SASL/SCRAM-SHA-512 over TLS) local broker per test process, shared by the
secure-service and secret-leak tests: starting one costs tens of seconds on a small machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from gridstream.broker.cluster import ClusterState, LocalCluster
from gridstream.broker.ports import free_ports

_STATE: ClusterState | None = None


def secure_cluster(config: pytest.Config) -> ClusterState:
    """The shared secure broker, started on first use and stopped when the session ends."""
    global _STATE
    if _STATE is None:
        cluster = LocalCluster(
            Path(tempfile.mkdtemp(prefix="gs-secure-")), port=free_ports(1)[0], secure=True
        )
        _STATE = cluster.start()
        config.add_cleanup(cluster.stop)
    return _STATE


def client_env(state: ClusterState) -> dict[str, str]:
    """The GRIDSTREAM_* settings ``broker start --secure`` wrote for clients."""
    assert state.client_env, "the broker was not started with --secure"
    text = Path(state.client_env).read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
