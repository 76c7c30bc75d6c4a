"""Benchmark child processes: pipeline services and the replaying ingestor, with peak memory.

Each service runs as its own interpreter (``gridstream.bench.child``), so the benchmark sees
real per-process CPU sharing and can read each one's peak resident memory (``VmHWM`` in
``/proc/<pid>/status``, the kernel's high-water mark) while it is alive.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gridstream.errors import BrokerError

log = logging.getLogger(__name__)
#: the name the broker's CPU and memory go under in the benchmark's tables
BROKER = "kafka-broker"


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size in MiB (None once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far (None once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    peak_mb: float = 0.0

    def sample(self) -> None:
        value = peak_rss_mb(self.proc.pid)
        if value is not None:
            self.peak_mb = max(self.peak_mb, value)

    def last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""


@dataclass
class ChildSet:
    """Started children, sampled for memory every ``interval_s`` until closed."""

    env: dict[str, str]
    log_dir: Path
    interval_s: float = 0.25
    children: list[Child] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None

    def _spawn(
        self, name: str, args: list[str], port: int | None, extra: dict[str, str] | None = None
    ) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name.replace('#', '-')}.log"
        env = {**os.environ, **self.env, **(extra or {})}
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        child = Child(name, proc, log_path, port)
        self.children.append(child)
        if self._sampler is None:
            self._sampler = threading.Thread(target=self._sample_loop, daemon=True)
            self._sampler.start()
        return child

    def start_service(
        self, name: str, port: int, group_prefix: str, instance: int = 0, label: str | None = None
    ) -> Child:
        """Instance ``instance`` of service ``name`` (its own transactional id), shown as
        ``label`` (default: the service's name)."""
        return self._spawn(
            label or name,
            ["-m", "gridstream.bench.child", name, str(port), group_prefix],
            port,
            {"GRIDSTREAM_INSTANCE_ID": str(instance)},
        )

    def start_command(self, name: str, cli_args: list[str]) -> Child:
        """A ``gridstream`` CLI command as a child (its stdout goes to the log file)."""
        code = "from gridstream.cli import main; main()"
        return self._spawn(name, ["-c", code, *cli_args], None)

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for child in list(self.children):
                child.sample()

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        """Until every service answers 200 on /ready (connected, assigned, looping)."""
        deadline = time.monotonic() + timeout_s
        pending = [c for c in self.children if c.port is not None]
        with httpx.Client(timeout=2.0) as http:
            while pending:
                for child in list(pending):
                    if child.proc.poll() is not None:
                        raise BrokerError(
                            f"{child.name} exited with {child.proc.returncode} during start-up: "
                            f"{child.last_log_line()} (log: {child.log_path})"
                        )
                    try:
                        if http.get(f"http://127.0.0.1:{child.port}/ready").status_code == 200:
                            pending.remove(child)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    names = ", ".join(c.name for c in pending)
                    raise BrokerError(f"services not ready after {timeout_s:.0f}s: {names}")
                time.sleep(0.3)

    def check_alive(self) -> None:
        for child in self.children:
            if child.port is not None and child.proc.poll() is not None:
                raise BrokerError(
                    f"{child.name} died (exit {child.proc.returncode}): {child.last_log_line()}"
                )

    def cpu(self) -> dict[str, float]:
        """CPU seconds each child has used so far."""
        out = {}
        for child in self.children:
            value = cpu_seconds(child.proc.pid)
            if value is not None:
                out[child.name] = round(value, 1)
        return out

    def gauge(self, name: str, metric: str) -> float | None:
        """The value of ``metric`` on the service ``name``'s ``/metrics`` (summed over its
        instances; None if none serves it)."""
        from prometheus_client.parser import text_string_to_metric_families

        values = []
        for child in self.children:
            if child.port is None or not child.name.startswith(name):
                continue
            try:
                text = httpx.get(f"http://127.0.0.1:{child.port}/metrics", timeout=10).text
            except httpx.HTTPError:
                continue
            for family in text_string_to_metric_families(text):
                values += [sample.value for sample in family.samples if sample.name == metric]
        return sum(values) if values else None

    def wait_quiet(
        self, window_s: float = 3.0, max_cores: float = 0.15, timeout_s: float = 240.0
    ) -> float:
        """Wait until the children together use under ``max_cores`` of a core over
        ``window_s`` (what a fast replay left behind is done: backlogs, a first model
        training); seconds waited, at most about ``timeout_s``."""
        started = time.monotonic()

        def total() -> float:
            return sum(cpu_seconds(c.proc.pid) or 0.0 for c in self.children)

        before = total()
        while True:
            time.sleep(window_s)
            now = total()
            waited = time.monotonic() - started
            if now - before <= max_cores * window_s or waited >= timeout_s:
                return waited
            before = now

    def peaks(self) -> dict[str, float]:
        for child in self.children:
            child.sample()
        return {c.name: round(c.peak_mb, 1) for c in self.children}

    def close(self, grace_s: float = 20.0) -> None:
        """SIGTERM every child, SIGKILL those still alive after ``grace_s``."""
        self.peaks()
        self._stop.set()
        alive = [c for c in self.children if c.proc.poll() is None]
        for child in alive:
            child.proc.terminate()
        deadline = time.monotonic() + grace_s
        for child in alive:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs: killing it", child.name, grace_s)
                child.proc.kill()
                child.proc.wait(timeout=10)
