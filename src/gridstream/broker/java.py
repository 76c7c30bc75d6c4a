"""Finding a Java 17+ runtime for the Kafka broker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gridstream.errors import BrokerError

MIN_JAVA = 17


@dataclass(frozen=True)
class JavaRuntime:
    executable: Path
    major: int


def parse_java_major(version_output: str) -> int:
    """The major version from ``java -version`` output (``"17.0.15"`` -> 17, ``"1.8.0"`` -> 8)."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if m is None:
        raise BrokerError(f"could not read the Java version from: {version_output.strip()[:200]}")
    major = int(m.group(1))
    if major == 1 and m.group(2) is not None:
        major = int(m.group(2))
    return major


def find_java() -> JavaRuntime:
    """Java from JAVA_HOME, else from PATH; at least Java 17."""
    home = os.environ.get("JAVA_HOME")
    candidate: str | None = None
    if home:
        path = Path(home) / "bin" / "java"
        if path.exists():
            candidate = str(path)
    if candidate is None:
        candidate = shutil.which("java")
    if candidate is None:
        raise BrokerError(
            f"Java {MIN_JAVA}+ not found: install a JDK "
            "(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    proc = subprocess.run([candidate, "-version"], capture_output=True, text=True, check=False)
    major = parse_java_major(proc.stderr + proc.stdout)
    if major < MIN_JAVA:
        raise BrokerError(
            f"Java {major} at {candidate} is too old: Kafka 4 needs Java {MIN_JAVA}+; "
            "install a newer JDK or point JAVA_HOME at one"
        )
    return JavaRuntime(Path(candidate), major)
