"""Service processes of a verification run: start, SIGKILL, restart, wait for readiness.

Each service runs as ``gridstream service <name> --port P`` (the command the ``gridstream up``
supervisor runs), with the run's environment (broker, topic names, state directory) and its
own free HTTP port. A process that exits on its own is restarted like the supervisor would,
and counted as a crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gridstream.errors import GridstreamError
from gridstream.stack.supervisor import last_error_line, service_command

log = logging.getLogger(__name__)


class VerifyError(GridstreamError):
    """A verification run could not be carried out (not: it found a difference)."""


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_file: Path
    instance: str = "0"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    crashes: int = 0
    crash_lines: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name if self.instance == "0" else f"{self.name}#{self.instance}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, **self.env, "GRIDSTREAM_INSTANCE_ID": self.instance}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                service_command(self.name, self.port),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.starts += 1
        log.info("started %s (pid %d, port %d)", self.label, self.proc.pid, self.port)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (no chance to finish a batch or abort a transaction) and reap."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1
        log.info("SIGKILLed %s (pid %d)", self.label, self.proc.pid)
        self.proc = None

    def restart_if_crashed(self) -> bool:
        """Restart a process that exited by itself; True if it had."""
        if self.proc is None or self.proc.poll() is None:
            return False
        self.crashes += 1
        line = last_error_line(str(self.log_file))
        self.crash_lines.append(line)
        log.warning("%s exited with %s: %s; restarting", self.label, self.proc.returncode, line)
        self.start()
        return True

    def terminate(self) -> None:
        """SIGTERM without waiting (``stop`` waits for the exit)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, grace_s: float = 20.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def get(self, path: str, timeout: float = 2.0) -> httpx.Response | None:
        try:
            return httpx.get(self.url + path, timeout=timeout)
        except httpx.HTTPError:
            return None

    def ready(self) -> bool:
        response = self.get("/ready")
        return response is not None and response.status_code == 200

    def json(self, path: str) -> Any:
        response = self.get(path)
        if response is None or response.status_code != 200:
            return None
        return response.json()

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready():
                return
            if self.proc is not None and self.proc.poll() is not None:
                self.restart_if_crashed()
            time.sleep(0.3)
        raise VerifyError(
            f"{self.label} was not ready within {timeout_s:.0f}s; see {self.log_file}: "
            + last_error_line(str(self.log_file))
        )

    def summary(self) -> dict[str, Any]:
        return {
            "starts": self.starts,
            "kills": self.kills,
            "crashes": self.crashes,
            "crash_lines": self.crash_lines[-3:],
        }
