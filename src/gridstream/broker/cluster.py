"""A local Apache Kafka cluster of 1..N combined KRaft nodes, run as plain Java processes.

The same code backs ``gridstream broker start|stop|status`` and the test fixture. The state of
a running cluster (pids, ports, version) is kept in ``<state_dir>/cluster.json``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from gridstream.broker.fetch import DEFAULT_KAFKA_VERSION, KafkaDistribution, ensure_kafka
from gridstream.broker.java import JavaRuntime, find_java
from gridstream.broker.ports import free_ports, port_in_use
from gridstream.broker.properties import NodeSpec, render_properties
from gridstream.broker.security import secure_setup
from gridstream.bus.admin import Admin
from gridstream.bus.settings import KafkaSettings
from gridstream.errors import BrokerError

log = logging.getLogger(__name__)

STATE_FILE = "cluster.json"

#: JIT of the managed broker: C1 only (``-XX:TieredStopAtLevel=1``). The local broker shares a
#: laptop's cores with nine services, and after every start C2's background compilation took
#: 35-50 % of a core for minutes (``top -H``: the "C2 CompilerThread"). ``gridstream bench``
#: on 2 cores: replaying 60 days, broker CPU 31.7 s -> 17.8 s and 670 -> 800 readings/s, and at
#: 100 readings/s p50 reading -> forecast 392 -> 292 ms (2 days); over a whole year the two even
#: out (broker 78.0 -> 72.1 CPU s, 1,028 -> 987 readings/s: C2's faster code has caught up).
#: Most local brokers (tests, ``verify``, a laptop session) live minutes, so C1 is the default;
#: a production cluster is not started by GridStream, and ``GRIDSTREAM_BROKER__JVM_OPTIONS=""``
#: restores the JVM's own tiers.
QUICK_JIT: tuple[str, ...] = ("-XX:TieredStopAtLevel=1",)


def jvm_flags(configured: str | None) -> tuple[str, ...]:
    """The broker's extra JVM flags: ``configured`` (space-separated) or :data:`QUICK_JIT`."""
    return QUICK_JIT if configured is None else tuple(shlex.split(configured))


@dataclass
class NodeState:
    node_id: int
    pid: int
    port: int
    controller_port: int
    log_file: str


@dataclass
class ClusterState:
    version: str
    cluster_id: str
    bootstrap: str
    nodes: list[NodeState]
    started_at: float
    secure: bool = False
    client_env: str = ""


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own ``Uuid.randomUuid`` it never starts with ``-`` (command-line tools would
    take such an id for an option).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0): look at its state
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalCluster:
    """Format, start, wait for, describe and stop local KRaft nodes."""

    def __init__(
        self,
        state_dir: Path,
        port: int = 9092,
        nodes: int = 1,
        version: str = DEFAULT_KAFKA_VERSION,
        heap_mb: int = 512,
        secure: bool = False,
        jvm_options: Sequence[str] = QUICK_JIT,
    ) -> None:
        if nodes < 1:
            raise BrokerError("a cluster needs at least one node")
        self.state_dir = state_dir
        self.port = port
        self.nodes = nodes
        self.version = version
        self.heap_mb = heap_mb
        self.secure = secure
        self.jvm_options = tuple(jvm_options)

    # ---- state -------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    def read_state(self) -> ClusterState | None:
        try:
            raw = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        raw["nodes"] = [NodeState(**n) for n in raw["nodes"]]
        return ClusterState(**raw)

    def _write_state(self, state: ClusterState) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(asdict(state), indent=2))

    def running_state(self) -> ClusterState | None:
        state = self.read_state()
        if state and any(pid_alive(n.pid) for n in state.nodes):
            return state
        return None

    def reset(self) -> bool:
        """Forget a stopped cluster's data (topics, offsets, state); True when there was any.

        Refuses while a node runs: stop it first."""
        if self.running_state() is not None:
            raise BrokerError(f"the cluster in {self.state_dir} is running: stop it first")
        nodes = sorted(self.state_dir.glob("node-*"))
        for node in nodes:
            _remove_tree(node)
        self.state_file.unlink(missing_ok=True)
        return bool(nodes)

    # ---- start -------------------------------------------------------------------------
    def _specs(self) -> list[NodeSpec]:
        ports = [self.port + i for i in range(self.nodes)]
        controller_ports = free_ports(self.nodes)
        return [
            NodeSpec(i + 1, ports[i], controller_ports[i], self.state_dir / f"node-{i + 1}")
            for i in range(self.nodes)
        ]

    def _existing_specs(self) -> list[NodeSpec] | None:
        """The nodes of an earlier cluster in state_dir, if its layout matches this one."""
        specs = []
        for i in range(self.nodes):
            data_dir = self.state_dir / f"node-{i + 1}"
            props = _read_meta(data_dir, "server.properties")
            if not props or not (data_dir / "kraft" / "meta.properties").exists():
                return None
            port = int(props["listeners"].split(",")[0].rsplit(":", 1)[1])
            ctl = int(props["listeners"].split(",")[1].rsplit(":", 1)[1])
            if port != self.port + i:
                return None
            specs.append(NodeSpec(i + 1, port, ctl, data_dir))
        if (self.state_dir / f"node-{self.nodes + 1}").exists():
            return None
        return specs

    def start(self, timeout: float = 120.0) -> ClusterState:
        running = self.running_state()
        if running is not None:
            log.info("Kafka already running at %s", running.bootstrap)
            return running
        java = find_java()
        dist = ensure_kafka(self.version)
        security = secure_setup(self.state_dir / "secure") if self.secure else None
        reused = None if self.secure else self._existing_specs()
        specs = reused or self._specs()
        for spec in specs:
            if port_in_use(spec.port):
                raise BrokerError(
                    f"port {spec.port} is in use: another broker or program listens there; "
                    "stop it, or choose another port with --port"
                )
        if reused:
            cluster_id = _read_meta(reused[0].kraft_dir).get("cluster.id", "")
            log.info("restarting the existing cluster %s in %s", cluster_id, self.state_dir)
        else:
            cluster_id = new_cluster_id()
            for spec in specs:
                if spec.data_dir.exists():
                    _remove_tree(spec.data_dir)
                spec.log_dir.mkdir(parents=True, exist_ok=True)
                extra = (
                    security.listener_properties(spec.port, spec.controller_port)
                    if security
                    else None
                )
                spec.properties_file.write_text(render_properties(spec, specs, extra))
                self._format(
                    java, dist, spec, cluster_id, security.scram_args() if security else []
                )
        states = [self._launch(java, dist, spec) for spec in specs]
        bootstrap = ",".join(f"127.0.0.1:{s.port}" for s in specs)
        state = ClusterState(dist.version, cluster_id, bootstrap, states, time.time())
        if security is not None:
            state.secure = True
            state.client_env = str(security.write_client_env(bootstrap))
        self._write_state(state)
        try:
            self._wait_ready(state, timeout)
        except BrokerError:
            self.stop()
            raise
        log.info("Kafka %s ready at %s", dist.version, bootstrap)
        return state

    def _java_cmd(self, java: JavaRuntime, dist: KafkaDistribution, log_dir: Path) -> list[str]:
        return [
            str(java.executable),
            f"-Xms{min(256, self.heap_mb)}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            *self.jvm_options,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={dist.log4j_config}",
            f"-Dkafka.logs.dir={log_dir}",
            "-cp",
            dist.classpath,
        ]

    def _format(
        self,
        java: JavaRuntime,
        dist: KafkaDistribution,
        spec: NodeSpec,
        cluster_id: str,
        extra_args: list[str],
    ) -> None:
        cmd = [
            *self._java_cmd(java, dist, spec.log_dir),
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",
            "-c",
            str(spec.properties_file),
            "--ignore-formatted",
            *extra_args,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage of node {spec.node_id} failed:\n"
                + (proc.stdout + proc.stderr)[-2000:]
            )

    def _launch(self, java: JavaRuntime, dist: KafkaDistribution, spec: NodeSpec) -> NodeState:
        out = spec.log_dir / "stdout.log"
        with out.open("ab") as fh:
            proc = subprocess.Popen(
                [
                    *self._java_cmd(java, dist, spec.log_dir),
                    "kafka.Kafka",
                    str(spec.properties_file),
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return NodeState(
            spec.node_id,
            proc.pid,
            spec.port,
            spec.controller_port,
            str(spec.log_dir / "server.log"),
        )

    def admin_settings(self, state: ClusterState) -> KafkaSettings:
        """Settings with which the cluster's own tooling talks to it."""
        if state.secure:
            return secure_setup(self.state_dir / "secure").admin_settings(state.bootstrap)
        return KafkaSettings(bootstrap=state.bootstrap, client_id="gridstream-broker")

    def _wait_ready(self, state: ClusterState, timeout: float) -> None:
        admin = Admin(self.admin_settings(state), quiet=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in state.nodes:
                if not pid_alive(node.pid):
                    log_file = Path(node.log_file)
                    tail = log_tail(log_file.parent / "stdout.log", 10) + "\n" + log_tail(log_file)
                    raise BrokerError(
                        f"Kafka node {node.node_id} exited during start-up; last lines of "
                        f"{log_file}:\n{tail}"
                    )
            if admin.reachable(timeout=2.0):
                info = admin.describe()
                if len(info.brokers) >= len(state.nodes):
                    return
            time.sleep(0.5)
        raise BrokerError(
            f"Kafka did not answer metadata requests within {timeout:.0f}s; "
            f"see {state.nodes[0].log_file}"
        )

    # ---- stop / kill -----------------------------------------------------------------------
    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM every node, wait, SIGKILL stragglers. True if something was running."""
        state = self.read_state()
        if state is None:
            return False
        alive = [n for n in state.nodes if pid_alive(n.pid)]
        for node in alive:
            _signal(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(pid_alive(n.pid) for n in alive):
            _reap(alive)
            time.sleep(0.2)
        for node in alive:
            if pid_alive(node.pid):
                log.warning("node %d did not stop in %.0fs: killing it", node.node_id, timeout)
                _signal(node.pid, signal.SIGKILL)
        _reap(alive)
        self.state_file.unlink(missing_ok=True)
        return bool(alive)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node (fault injection)."""
        state = self._require_state()
        node = next(n for n in state.nodes if n.node_id == node_id)
        _signal(node.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(node.pid) and time.monotonic() < deadline:
            _reap([node])
            time.sleep(0.05)

    def restart_node(self, node_id: int, timeout: float = 120.0) -> None:
        """Start a stopped node again on its existing storage."""
        state = self._require_state()
        java, dist = find_java(), ensure_kafka(state.version)
        for i, node in enumerate(state.nodes):
            if node.node_id != node_id:
                continue
            spec = NodeSpec(
                node.node_id,
                node.port,
                node.controller_port,
                self.state_dir / f"node-{node.node_id}",
            )
            state.nodes[i] = self._launch(java, dist, spec)
        self._write_state(state)
        self._wait_ready(state, timeout)

    def _require_state(self) -> ClusterState:
        state = self.read_state()
        if state is None:
            raise BrokerError(f"no local cluster recorded in {self.state_dir}: start one first")
        return state

    # ---- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        state = self.read_state()
        if state is None:
            return {"running": False, "state_dir": str(self.state_dir)}
        nodes = [
            {
                **asdict(n),
                "alive": pid_alive(n.pid),
                "listener": f"{'SASL_SSL' if state.secure else 'PLAINTEXT'}://127.0.0.1:{n.port}",
            }
            for n in state.nodes
        ]
        result: dict[str, object] = {
            "running": any(n["alive"] for n in nodes),
            "secure": state.secure,
            "client_env": state.client_env,
            "version": state.version,
            "cluster_id": state.cluster_id,
            "bootstrap": state.bootstrap,
            "nodes": nodes,
            "state_dir": str(self.state_dir),
        }
        if result["running"]:
            try:
                info = Admin(self.admin_settings(state), quiet=True).describe(5.0)
                result["brokers"] = info.brokers
                result["topics"] = info.topics
            except BrokerError as exc:
                result["error"] = str(exc)
        return result


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(nodes: list[NodeState]) -> None:
    """Collect exited children so they do not linger as zombies."""
    for node in nodes:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(node.pid, os.WNOHANG)


def _read_meta(directory: Path, name: str = "meta.properties") -> dict[str, str]:
    """A Java properties file as a dict (empty when missing)."""
    try:
        lines = (directory / name).read_text().splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
