"""The container health probe (deploy/docker/ready.py) and the Dockerfile around it."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType

import pytest
from conftest import REPO

PROBE = REPO / "deploy" / "docker" / "ready.py"


def _probe_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ready_probe", PROBE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_service() -> Iterator[tuple[int, dict[str, int]]]:
    """An HTTP server whose /ready answers with the status in ``state['status']``."""
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state["status"] if self.path == "/ready" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], state
    server.shutdown()


def _run_probe(port: int) -> int:
    env = {**os.environ, "GRIDSTREAM_HTTP_PORT": str(port)}
    return subprocess.run([sys.executable, str(PROBE)], env=env, timeout=30, check=False).returncode


def test_probe_follows_ready(fake_service: tuple[int, dict[str, int]]) -> None:
    port, state = fake_service
    assert _run_probe(port) == 0
    state["status"] = 503
    assert _run_probe(port) == 1


def test_probe_fails_when_nothing_listens(fake_service: tuple[int, dict[str, int]]) -> None:
    port, _ = fake_service
    assert _run_probe(port + 1 if port < 65535 else port - 1) == 1


def test_probe_finds_the_service_on_the_command_line() -> None:
    probe = _probe_module()
    init = ["/sbin/docker-init", "--", "gridstream", "service", "smart-ml-forecaster"]
    assert probe.service_name(init) == "smart-ml-forecaster"
    assert probe.port_from_cmdline(init) is None
    assert probe.port_from_cmdline([*init, "--port", "6000"]) == 6000
    assert probe.port_from_cmdline([*init, "--port=6001"]) == 6001
    assert probe.service_name(["gridstream", "topics", "create"]) is None


def test_dockerfile_is_multistage_non_root_and_probes_ready() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", text, re.M)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER\s+(?!root|0\b)\S+", runtime, re.M)
    assert "HEALTHCHECK" in runtime and "/opt/gridstream/ready.py" in runtime
    assert not re.search(r"build-essential|gcc|g\+\+|pip install", runtime)
    copied = [
        source.rstrip("/")
        for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, re.M)
        for source in line.split()[:-1]
    ]
    assert copied, "the image copies the package from the build context"
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert set(copied) <= allowed, "a COPY source is excluded by .dockerignore"


def test_the_image_carries_a_portable_tree_kernel_for_its_compilerless_runtime() -> None:
    text = (REPO / "Dockerfile").read_text()
    build, runtime = text.split("AS runtime", 1)
    built = re.search(r"-m gridstream\.core\.forecasting\.kernel_build\s+(\S+)", build)
    assert built, "the build stage compiles the portable tree kernel"
    assert re.search(r"install[^\n]*\bgcc\b", build), "the build stage has the compiler"
    prebuilt = re.search(r"GRIDSTREAM_KERNEL_PREBUILT=(\S+)", runtime)
    assert prebuilt and prebuilt.group(1) == built.group(1)
    assert built.group(1).startswith("/opt/gridstream/")  # copied with the venv
    assert "COPY --from=build /opt/gridstream /opt/gridstream" in runtime
