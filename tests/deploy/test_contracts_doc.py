"""docs/contracts.md is what tools/gen_contracts_doc.py makes from the current sources."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from google.protobuf import descriptor_pool

from gridstream.bus.topics import MESSAGE_TYPES, TopicNames

TOOL = REPO / "tools" / "gen_contracts_doc.py"
DOC = REPO / "docs" / "contracts.md"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_contracts_page_is_current() -> None:
    result = _run("--check")
    assert result.returncode == 0, result.stderr


def test_every_topic_and_every_field_is_documented() -> None:
    import gridstream.schemas.alert_pb2
    import gridstream.schemas.anomaly_pb2
    import gridstream.schemas.dead_letter_pb2
    import gridstream.schemas.features_pb2
    import gridstream.schemas.forecast_pb2
    import gridstream.schemas.model_pb2
    import gridstream.schemas.readings_pb2
    import gridstream.schemas.rebalance_pb2
    import gridstream.schemas.storage_pb2  # noqa: F401

    text = DOC.read_text()
    pool = descriptor_pool.Default()
    for logical, topic in TopicNames().all().items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{topic}` |")), "")
        assert MESSAGE_TYPES[logical] in row, f"topic {topic} is missing or has the wrong type"
        message = pool.FindMessageTypeByName(MESSAGE_TYPES[logical])
        section = text.split(f"### {message.full_name}\n", 1)[1].split("\n### ", 1)[0]
        for field in message.fields:
            pattern = rf"^\| {field.number} \| `{field.name}` \| [^|]+ \| [^|]+ \| [^|—]+ \|$"
            assert re.search(pattern, section, re.M), f"{message.full_name}.{field.name}"


def test_a_field_without_a_comment_is_refused(tmp_path: Path) -> None:
    proto = tmp_path / "proto"
    shutil.copytree(REPO / "proto", proto)
    storage = proto / "gridstream" / "v1" / "storage.proto"
    text = storage.read_text()
    stripped = re.sub(r"(double solve_ms = 12;)\s*//[^\n]*", r"\1", text)
    assert stripped != text
    storage.write_text(stripped)
    result = _run("--check", "--proto-dir", str(proto), "--output", str(tmp_path / "c.md"))
    assert result.returncode == 2
    assert "gridstream.v1.StorageSchedule.solve_ms" in result.stderr
