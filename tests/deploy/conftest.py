"""Fixtures for the deployment tests: the built Java client and the rendered kustomize base."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
JAVA_DIR = REPO / "interop" / "java"
JAR = JAVA_DIR / "target" / "gridstream-interop.jar"
STAMP = JAVA_DIR / "target" / ".gridstream-inputs"


def _missing_tool(message: str) -> None:
    """In CI a missing tool is a failure; on a developer machine the test is skipped."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _java_inputs_hash() -> str:
    """Hash of everything the jar is built from: a rebuild happens only when one changes."""
    digest = hashlib.sha256()
    inputs = [JAVA_DIR / "pom.xml"]
    inputs += sorted((JAVA_DIR / "src").rglob("*"))
    inputs += sorted((REPO / "proto").rglob("*.proto"))
    for path in inputs:
        if path.is_file():
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def java_client() -> list[str]:
    """The command that runs the Java interop client (built with Maven when out of date)."""
    java, mvn = shutil.which("java"), shutil.which("mvn")
    if java is None or mvn is None:
        _missing_tool(
            "java and mvn are needed for the Java interop test: install JDK 17+ and Maven"
        )
    assert java is not None and mvn is not None
    wanted = _java_inputs_hash()
    if not (JAR.exists() and STAMP.exists() and STAMP.read_text() == wanted):
        proc = subprocess.run(
            [mvn, "-q", "-B", "-f", str(JAVA_DIR / "pom.xml"), "package"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, f"mvn package failed:\n{proc.stdout}\n{proc.stderr}"
        STAMP.write_text(wanted)
    return [java, "-jar", str(JAR)]


def _kustomize_command(directory: Path) -> list[str]:
    cache = os.environ.get("GRIDSTREAM_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gridstream"
    )
    cached = Path(cache) / "tools" / "bin" / "kustomize"
    if cached.exists():
        return [str(cached), "build", str(directory)]
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(directory)]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(directory)]
    _missing_tool("kustomize not found: run tools/deploy-deps.sh (builds it with Go)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def rendered_kustomize() -> list[dict[str, Any]]:
    """``deploy/kubernetes`` rendered offline, as a list of Kubernetes objects."""
    cmd = _kustomize_command(REPO / "deploy" / "kubernetes")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed (YAML anchors and merge keys resolved)."""
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data
