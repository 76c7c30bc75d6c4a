"""Fetching the official Apache Kafka broker from Maven Central, cached per version.

The jars land in ``<cache>/kafka/<version>/libs``; a second call needs no network. With
``KAFKA_HOME`` an existing Kafka installation (its ``libs/``) is used instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gridstream.errors import BrokerError

DEFAULT_KAFKA_VERSION = "4.1.1"


@dataclass(frozen=True)
class KafkaDistribution:
    version: str
    libs: Path
    log4j_config: Path

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def cache_root() -> Path:
    """``$GRIDSTREAM_CACHE_DIR``, else ``$XDG_CACHE_HOME/gridstream`` or ``~/.cache/gridstream``."""
    explicit = os.environ.get("GRIDSTREAM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gridstream"


def _resource_text(name: str) -> str:
    return resources.files("gridstream.broker").joinpath(name).read_text()


def _kafka_version_of(libs: Path) -> str:
    for jar in libs.glob("kafka_2.13-*.jar"):
        name = jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
        if name[:1].isdigit() and "-" not in name:
            return name
    raise BrokerError(f"no kafka_2.13-<version>.jar in {libs}: is KAFKA_HOME a Kafka installation?")


def ensure_kafka(version: str = DEFAULT_KAFKA_VERSION, offline: bool = False) -> KafkaDistribution:
    """The Kafka distribution to run, fetched with Maven on first use."""
    kafka_home = os.environ.get("KAFKA_HOME")
    if kafka_home:
        libs = Path(kafka_home) / "libs"
        if not libs.is_dir():
            raise BrokerError(f"KAFKA_HOME={kafka_home} has no libs/ directory: unset it or fix it")
        target = cache_root() / "kafka" / "external"
        target.mkdir(parents=True, exist_ok=True)
        log4j = target / "log4j2.properties"
        log4j.write_text(_resource_text("log4j2.properties"))
        return KafkaDistribution(_kafka_version_of(libs), libs, log4j)

    home = cache_root() / "kafka" / version
    libs = home / "libs"
    log4j = home / "log4j2.properties"
    done = home / ".complete"
    if done.exists():
        return KafkaDistribution(version, libs, log4j)
    if offline:
        raise BrokerError(f"Kafka {version} is not in the cache ({home}) and fetching is disabled")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven (mvn) not found: install it (apt-get install maven) to fetch Kafka, "
            "or set KAFKA_HOME to an existing Kafka install, or GRIDSTREAM_BOOTSTRAP to a cluster"
        )
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(_resource_text("kafka-pom.xml"))
    tmp_libs = home / "libs.partial"
    shutil.rmtree(tmp_libs, ignore_errors=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp_libs}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise BrokerError(
            f"Maven could not fetch Kafka {version} (offline, or the version does not exist?). "
            f"Set KAFKA_HOME to use an installed Kafka instead. Maven said:\n{tail}"
        )
    # log4j-slf4j2-impl needs slf4j 2: drop an older slf4j-api a dependency may pull in.
    for old in tmp_libs.glob("slf4j-api-1.*.jar"):
        old.unlink()
    shutil.rmtree(libs, ignore_errors=True)
    tmp_libs.rename(libs)
    log4j.write_text(_resource_text("log4j2.properties"))
    done.write_text(version + "\n")
    return KafkaDistribution(version, libs, log4j)
