"""The supervisor process: runs every service as a child, restarts crashed ones with backoff.

A service that cannot start (say, its module is missing) is restarted with growing pauses
(1 s, 2 s, 4 s ... 60 s) and reported with the last line of its log; the others keep
running. SIGTERM stops the children (SIGTERM, then SIGKILL after a grace period) and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gridstream.config import SERVICE_PORTS
from gridstream.stack.files import ServicePlan, ServiceState, StackFiles, StackPlan, StackState

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 60.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long has its backoff reset
STOP_GRACE_S = 20.0


def backoff_s(crashes: int) -> float:
    """Pause before restart number ``crashes`` (1, 2, 4 ... capped at a minute)."""
    if crashes <= 0:
        return 0.0
    return min(BACKOFF_MAX_S, 2.0 ** (crashes - 1))


def service_command(name: str, port: int) -> list[str]:
    """``gridstream service <name> --port <port>`` with this interpreter."""
    return [
        sys.executable,
        "-c",
        "from gridstream.cli import main; main()",
        "service",
        name,
        "--port",
        str(port),
    ]


def last_error_line(path: str, max_bytes: int = 20_000) -> str:
    """The last non-empty line of a log (a traceback's last line names the error)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.strip():
            return line.strip()[:400]
    return ""


#: the pipeline's services yield the CPU to the dashboard (and to the operator's shell): a
#: replay at full speed keeps both cores busy, and the page must still answer at once
BATCH_SERVICES = frozenset(name for name in SERVICE_PORTS if name != "dashboard")
BATCH_NICENESS = 5


def lower_priority(pid: int) -> None:
    """Renice a just-started service (before its threads exist: they inherit it)."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, min(19, current + BATCH_NICENESS))
    except OSError as exc:  # gone already, or not allowed: it runs at normal priority
        log.warning("could not lower the priority of pid %d: %s", pid, exc)


def lower_group_priority(autogroup: Path = Path("/proc/self/autogroup")) -> bool:
    """Lower the scheduling weight of this session's group (Linux autogroups), where the nine
    services run. The kernel shares the CPU between sessions first, so niceness inside the
    group alone cannot keep the dashboard (a session of its own) from being starved."""
    try:
        autogroup.write_text(str(BATCH_NICENESS))
    except OSError:  # no autogroups (another kernel, or disabled): nice inside the group only
        return False
    return True


@dataclass
class Child:
    plan: ServicePlan
    state: ServiceState
    proc: subprocess.Popen[bytes] | None = None
    crashes: int = 0


class Supervisor:
    def __init__(self, plan: StackPlan, files: StackFiles) -> None:
        self.plan = plan
        self.files = files
        self._stop = threading.Event()
        self.children = [Child(p, ServiceState(p.name)) for p in plan.services]

    def run(self) -> None:
        lower_group_priority()
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self.files.logs.mkdir(parents=True, exist_ok=True)
        for child in self.children:
            self._start(child)
        try:
            while not self._stop.is_set():
                self.check()
                self._write()
                self._stop.wait(0.5)
        finally:
            self.stop_children()
            self._write(stopping=True)

    def check(self) -> None:
        now = time.time()
        for child in self.children:
            proc = child.proc
            if proc is not None and proc.poll() is not None:
                code = proc.returncode
                ran = now - child.state.started_at
                child.crashes = 1 if ran >= HEALTHY_AFTER_S else child.crashes + 1
                child.proc = None
                child.state.pid = None
                child.state.last_exit = code
                child.state.last_error = last_error_line(child.plan.log)
                child.state.state = "restarting"
                child.state.next_start_at = now + backoff_s(child.crashes)
                log.warning(
                    "%s exited with %s after %.0fs; restart in %.0fs: %s",
                    child.plan.name,
                    code,
                    ran,
                    backoff_s(child.crashes),
                    child.state.last_error,
                )
            elif child.proc is None and now >= child.state.next_start_at:
                child.state.restarts += 1
                self._start(child)
            elif (
                proc is not None
                and child.state.state == "starting"
                and now - child.state.started_at > 5
            ):
                child.state.state = "running"

    def _start(self, child: Child) -> None:
        env = dict(os.environ)
        env.update(self.plan.env)
        with open(child.plan.log, "ab") as out:
            child.proc = subprocess.Popen(
                service_command(child.plan.name, child.plan.port),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                # its own session is its own scheduling group (Linux autogroups): the page
                # then gets a fair share of the CPU beside the nine services, not a tenth
                start_new_session=child.plan.name not in BATCH_SERVICES,
            )
        if child.plan.name in BATCH_SERVICES:
            lower_priority(child.proc.pid)
        child.state.pid = child.proc.pid
        child.state.state = "starting"
        child.state.started_at = time.time()
        log.info("started %s (pid %d, port %d)", child.plan.name, child.proc.pid, child.plan.port)

    def stop_children(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            assert child.proc is not None
            child.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs: killing it", child.plan.name, STOP_GRACE_S)
                child.proc.kill()
                child.proc.wait(timeout=10)
        for child in self.children:
            child.proc = None
            child.state.pid = None
            child.state.state = "stopped"

    def _write(self, stopping: bool = False) -> None:
        state = StackState(
            supervisor_pid=os.getpid(),
            services={c.plan.name: c.state for c in self.children},
            updated_at=time.time(),
            stopping=stopping,
        )
        self.files.write_state(state)

    def stop(self) -> None:
        self._stop.set()
