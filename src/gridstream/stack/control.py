"""``up``, ``down`` and ``status`` of the whole local stack (the CLI renders the results)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from gridstream.config import SERVICE_PORTS, Settings
from gridstream.errors import ConfigError
from gridstream.stack.files import ServicePlan, StackFiles, StackPlan, StackState
from gridstream.stack.probe import RateTracker, ServiceProbe, probe_service
from gridstream.stack.source import Pace, SourceChoice

SERVICES = tuple(SERVICE_PORTS)
GIVE_UP_AFTER_RESTARTS = 3


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    from gridstream.broker.cluster import pid_alive as alive

    return alive(pid)


def running_state(files: StackFiles) -> StackState | None:
    state = files.read_state()
    if state is not None and pid_alive(state.supervisor_pid):
        return state
    return None


def _control_token(settings: Settings, files: StackFiles) -> str:
    """The configured token, or one generated once and kept (0600) in the stack directory."""
    if settings.control_token is not None:
        return settings.control_token.get_secret_value()
    if files.token_file.exists():
        return files.token_file.read_text().strip()
    token = secrets.token_urlsafe(24)
    files.root.mkdir(parents=True, exist_ok=True)
    files.token_file.touch(mode=0o600)
    files.token_file.write_text(token)
    return token


def start_broker(settings: Settings) -> tuple[str, bool]:
    """The bootstrap address, and whether this call started the local broker."""
    if settings.external_cluster:
        assert settings.bootstrap is not None
        return settings.bootstrap, False
    from gridstream.broker.cluster import LocalCluster, jvm_flags

    cluster = LocalCluster(
        settings.broker_state_dir,
        port=settings.broker.port,
        nodes=settings.broker.nodes,
        version=settings.broker.version,
        heap_mb=settings.broker.heap_mb,
        jvm_options=jvm_flags(settings.broker.jvm_options),
    )
    was_running = cluster.running_state() is not None
    return cluster.start().bootstrap, not was_running


def create_topics(settings: Settings, bootstrap: str) -> list[str]:
    from gridstream.bus.admin import Admin
    from gridstream.bus.topics import topic_specs

    kafka = settings.model_copy(update={"bootstrap": bootstrap}).kafka("gridstream-up")
    specs = topic_specs(settings.topics, settings.topic_partitions, settings.topic_replication)
    return Admin(kafka).ensure_topics(specs)


def start_afresh(settings: Settings) -> list[str]:
    """Before a fresh replay: forget the previous run's topics and the trainer's history.

    Only the local broker that ``up`` manages is cleared, and only while it is stopped; the
    model registry is kept (a warm-up finds its models again). Returns what was cleared."""
    files = StackFiles(settings.state_dir)
    if running_state(files) is not None:
        raise ConfigError(
            "the stack is already running: see `gridstream status`; stop it with `gridstream down`"
        )
    cleared: list[str] = []
    if not settings.external_cluster:
        from gridstream.broker.cluster import LocalCluster

        cluster = LocalCluster(settings.broker_state_dir, port=settings.broker.port)
        if cluster.running_state() is not None:
            raise ConfigError(
                "a local broker started outside `up` is running; a fresh replay clears its "
                "topics: stop it (`gridstream broker stop`) or keep them with --resume"
            )
        if cluster.reset():
            cleared.append(f"the local broker's topics ({settings.broker_state_dir})")
    history = settings.history_store
    if history.exists():
        for path in history.parent.glob(history.name + "*"):  # the store and its WAL
            path.unlink()
        cleared.append(f"the trainer's history store ({history})")
    return cleared


def bring_up(
    settings: Settings, choice: SourceChoice, pace: Pace, port_offset: int = 0
) -> StackPlan:
    """Broker, topics, then the supervisor (detached), which starts every service."""
    files = StackFiles(settings.state_dir)
    if running_state(files) is not None:
        raise ConfigError(
            "the stack is already running: see `gridstream status`; stop it with `gridstream down`"
        )
    bootstrap, broker_started = start_broker(settings)
    create_topics(settings, bootstrap)
    files.logs.mkdir(parents=True, exist_ok=True)
    services = [
        ServicePlan(name, SERVICE_PORTS[name] + port_offset, str(files.log_of(name)))
        for name in SERVICES
    ]
    urls = {s.name: f"http://{settings.http_host}:{s.port}" for s in services}
    env = {
        "GRIDSTREAM_BOOTSTRAP": bootstrap,
        "GRIDSTREAM_STATE_DIR": str(settings.state_dir),
        "GRIDSTREAM_DASHBOARD_SERVICE_URLS": json.dumps(urls),
        # the trainer runs: forecasts follow its event-time decisions
        "GRIDSTREAM_FORECASTER_FOLLOW_TRAINER": os.environ.get(
            "GRIDSTREAM_FORECASTER_FOLLOW_TRAINER", "true"
        ),
        **choice.env(pace),
    }
    plan = StackPlan(
        services,
        env,
        bootstrap,
        broker_started,
        choice.kind,
        choice.reason,
        settings.http_host,
        time.time(),
    )
    _control_token(settings, files)
    files.write_plan(plan)
    files.state_file.unlink(missing_ok=True)
    with files.supervisor_log.open("ab") as out:
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from gridstream.cli import main; main()",
                "_supervise",
                "--state-dir",
                str(settings.state_dir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return plan


def run_supervisor(state_dir: Path) -> None:
    """Body of the hidden ``gridstream _supervise`` command."""
    from gridstream.stack.supervisor import Supervisor

    files = StackFiles(state_dir)
    plan = files.read_plan()
    if plan is None:
        raise ConfigError(f"no stack plan in {files.plan_file}: run `gridstream up`")
    os.environ["GRIDSTREAM_CONTROL_TOKEN"] = (
        files.token_file.read_text().strip()
        if files.token_file.exists()
        else os.environ.get("GRIDSTREAM_CONTROL_TOKEN", "")
    )
    Supervisor(plan, files).run()


def wait_ready(
    plan: StackPlan,
    files: StackFiles,
    timeout_s: float,
    on_progress: Callable[[dict[str, ServiceProbe]], None] | None = None,
) -> dict[str, ServiceProbe]:
    """Probe every service until all are ready, the rest keep crashing, or time runs out."""
    deadline = time.monotonic() + timeout_s
    probes: dict[str, ServiceProbe] = {}
    with httpx.Client(timeout=2.0) as client:
        while True:
            probes = {
                s.name: probe_service(client, s.name, plan.url_of(s.name)) for s in plan.services
            }
            if on_progress is not None:
                on_progress(probes)
            waiting = [n for n, p in probes.items() if not p.ready]
            state = files.read_state()
            hopeless = state is not None and all(
                n in state.services and state.services[n].restarts >= GIVE_UP_AFTER_RESTARTS
                for n in waiting
            )
            if not waiting or hopeless or time.monotonic() > deadline:
                return probes
            time.sleep(1.0)


def status(settings: Settings, sample_s: float = 1.0) -> dict[str, object]:
    """Each service's supervisor state, readiness, consumer lag and throughput."""
    files = StackFiles(settings.state_dir)
    plan, state = files.read_plan(), running_state(files)
    if plan is None or state is None:
        return {"running": False, "state_dir": str(files.root), "services": []}
    rates = RateTracker()
    with httpx.Client(timeout=2.0) as client:
        first = {
            s.name: rates.update(probe_service(client, s.name, plan.url_of(s.name)))
            for s in plan.services
        }
        time.sleep(sample_s)
        second = {
            s.name: rates.update(probe_service(client, s.name, plan.url_of(s.name)))
            for s in plan.services
        }
    rows = []
    for svc in plan.services:
        st = state.services.get(svc.name)
        probe = second.get(svc.name) or first[svc.name]
        rows.append(
            {
                **probe.as_dict(),
                "port": svc.port,
                "process": st.state if st else "unknown",
                "pid": st.pid if st else None,
                "restarts": st.restarts if st else 0,
                "last_error": st.last_error if st else "",
                "log": svc.log,
            }
        )
    return {
        "running": True,
        "bootstrap": plan.bootstrap,
        "source": plan.source,
        "source_reason": plan.source_reason,
        "supervisor_pid": state.supervisor_pid,
        "state_dir": str(files.root),
        "services": rows,
    }


def bring_down(settings: Settings, timeout_s: float = 60.0) -> list[str]:
    """Stop the supervisor (which stops the services), stragglers, and the broker it started."""
    files = StackFiles(settings.state_dir)
    plan, state = files.read_plan(), files.read_state()
    done: list[str] = []
    if state is not None and pid_alive(state.supervisor_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while pid_alive(state.supervisor_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        done.append(f"supervisor (pid {state.supervisor_pid})")
    for svc in state.services.values() if state else ():
        if svc.pid and pid_alive(svc.pid) and _is_gridstream(svc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(svc.pid, signal.SIGKILL)
            done.append(f"{svc.name} (pid {svc.pid}, killed)")
    if plan is not None and plan.broker_started:
        from gridstream.broker.cluster import LocalCluster

        if LocalCluster(settings.broker_state_dir, port=settings.broker.port).stop():
            done.append("local Kafka broker")
    files.clear()
    return done


def _is_gridstream(pid: int) -> bool:
    """Guard against a recycled pid: only signal processes that run GridStream."""
    try:
        return b"gridstream" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
