"""Where a running stack keeps its plan, pids, states and logs: ``<state_dir>/stack``.

``plan.json`` is written by ``gridstream up`` before the supervisor starts (what to run);
``state.json`` is rewritten by the supervisor every second (what is running). Both are read by
``down`` and ``status``; a missing or torn file reads as ``None``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ServicePlan:
    name: str
    port: int
    log: str


@dataclass
class StackPlan:
    services: list[ServicePlan]
    env: dict[str, str]
    bootstrap: str
    broker_started: bool
    source: str
    source_reason: str
    http_host: str = "127.0.0.1"
    created_at: float = 0.0

    def url_of(self, name: str) -> str:
        port = next(s.port for s in self.services if s.name == name)
        return f"http://{self.http_host}:{port}"


@dataclass
class ServiceState:
    name: str
    pid: int | None = None
    state: str = "starting"  # starting, running, restarting, stopped
    restarts: int = 0
    last_exit: int | None = None
    last_error: str = ""
    started_at: float = 0.0
    next_start_at: float = 0.0


@dataclass
class StackState:
    supervisor_pid: int
    services: dict[str, ServiceState] = field(default_factory=dict)
    updated_at: float = 0.0
    stopping: bool = False


class StackFiles:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "stack"
        self.logs = self.root / "logs"

    @property
    def plan_file(self) -> Path:
        return self.root / "plan.json"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def supervisor_log(self) -> Path:
        return self.logs / "supervisor.log"

    @property
    def token_file(self) -> Path:
        return self.root / "control_token"

    def log_of(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def write_plan(self, plan: StackPlan) -> None:
        _write_json(self.plan_file, asdict(plan))

    def read_plan(self) -> StackPlan | None:
        raw = _read_json(self.plan_file)
        if raw is None:
            return None
        raw["services"] = [ServicePlan(**s) for s in raw["services"]]
        return StackPlan(**raw)

    def write_state(self, state: StackState) -> None:
        _write_json(self.state_file, asdict(state))

    def read_state(self) -> StackState | None:
        raw = _read_json(self.state_file)
        if raw is None:
            return None
        raw["services"] = {k: ServiceState(**v) for k, v in raw["services"].items()}
        return StackState(**raw)

    def clear(self) -> None:
        for path in (self.plan_file, self.state_file):
            path.unlink(missing_ok=True)


def _write_json(path: Path, payload: Any) -> None:
    """Atomic replace, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
