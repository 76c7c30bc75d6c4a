"""The Java client (classes generated from proto/ by Maven) decodes what Python writes.

Both sides print canonical proto3 JSON, written by two independent implementations; the
Java output is also parsed back into the Python message and compared for equality. These
hand-made messages cover edge cases (NaN, escapes, enums, repeated fields); what the running
services write from a week of real data is checked in ``test_java_pipeline.py``.
"""

from __future__ import annotations

import json
import math
import pkgutil
import subprocess
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from google.protobuf import json_format
from google.protobuf.message import Message

import gridstream.schemas
from gridstream.bus.producer import MessageProducer
from gridstream.schemas import anomaly_pb2, common_pb2, forecast_pb2, rebalance_pb2

SHARED = REPO.parent / "shared" / "data" / "eirgrid"
ISSUE_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def _python_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _assert_same(java_value: dict[str, Any], sent: Message) -> None:
    assert java_value == _python_json(sent)
    back = type(sent)()
    json_format.ParseDict(java_value, back)
    assert back == sent


def forecast() -> forecast_pb2.Forecast:
    fc = forecast_pb2.Forecast(
        forecast_id=f"ALL/SYSTEM_DEMAND@{ISSUE_MS}",
        series_id="ALL/SYSTEM_DEMAND",
        region="ALL",
        field="SYSTEM_DEMAND",
        issue_time_ms=ISSUE_MS,
        model_version="v7",
        model_kind="lightgbm-quantile",
        unit="MW",
    )
    for h in range(1, 97):
        p50 = 4000 + 900 * math.sin(h / 96 * 2 * math.pi)
        fc.steps.add(
            target_time_ms=ISSUE_MS + h * 900_000,
            horizon_minutes=15 * h,
            p10=p50 - 150.125,
            p50=p50,
            p90=p50 + 1e-9 * h,
        )
    return fc


def anomaly() -> anomaly_pb2.Anomaly:
    a = anomaly_pb2.Anomaly(
        record_id=f"ROI/INTER_EWIC@{ISSUE_MS}",
        series_id="ROI/INTER_EWIC",
        region="ROI",
        field="INTER_EWIC",
        ts_ms=ISSUE_MS,
        value=-480.5,
        score=0.97,
        is_anomaly=True,
        label="spike",
        severity=common_pb2.SEVERITY_CRITICAL,
        explanation='Import jumped to "−480.5 MW"\nagainst a band of [-20, 35]',
        detector_version="d2",
    )
    a.evidence.add(kind="forecast_residual", score=0.97, detail="residual 12.4σ")
    a.evidence.add(kind="streaming_detector", score=float("nan"), detail="warming up")
    return a


def action() -> rebalance_pb2.RebalanceAction:
    return rebalance_pb2.RebalanceAction(
        action_id="act-1",
        region="ALL",
        kind=rebalance_pb2.ACTION_KIND_STORAGE_DISCHARGE,
        magnitude_mw=150.0,
        reason="evening peak above P90",
        evidence=[f"ALL/SYSTEM_DEMAND@{ISSUE_MS}", "sched-9"],
        approval=rebalance_pb2.APPROVAL_STATE_PROPOSED,
        created_at_ms=ISSUE_MS,
        effective_from_ms=ISSUE_MS + 900_000,
        effective_until_ms=ISSUE_MS + 2 * 900_000,
        decided_by="policy-3",
        mode="advisory",
        policy_version="3",
    )


def _all_message_names() -> set[str]:
    names: set[str] = set()
    for info in pkgutil.iter_modules(gridstream.schemas.__path__):
        if info.name.endswith("_pb2"):
            module = import_module(f"gridstream.schemas.{info.name}")
            names.update(m.full_name for m in module.DESCRIPTOR.message_types_by_name.values())
    return names


def test_java_knows_every_message_type(java_client: list[str]) -> None:
    out = subprocess.run([*java_client, "types"], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) == _all_message_names()


def test_java_decodes_files_written_by_python(java_client: list[str], tmp_path: Path) -> None:
    sent = {"forecast": forecast(), "anomaly": anomaly(), "action": action()}
    for name, message in sent.items():
        (tmp_path / name).write_bytes(message.SerializeToString())
    for name, message in sent.items():
        out = subprocess.run(
            [*java_client, "decode", "--type", message.DESCRIPTOR.full_name, str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        (line,) = out.stdout.splitlines()
        _assert_same(json.loads(line)["value"], message)


def test_java_reports_an_unknown_type(java_client: list[str], tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"\x08\x01")
    out = subprocess.run(
        [*java_client, "decode", "--type", "gridstream.v1.Nope", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1 and "unknown message type 'gridstream.v1.Nope'" in out.stderr


def _real_week_of_readings() -> list[Message]:
    import pandas as pd

    from gridstream.sources.recorded import list_files, read_frame
    from gridstream.sources.records import make_raw_reading

    files = list_files(SHARED, regions=["ALL"], areas=["demandactual"])
    if not files:
        pytest.skip(f"real data not available: no ALL demandactual files under {SHARED}")
    frame = read_frame(files[:1])
    start = frame["ts"].min()
    week = frame[frame["ts"] < start + pd.Timedelta(days=7)]
    return [
        make_raw_reading(
            region=row.region,
            field=row.field,
            ts_ms=int(row.ts.value // 1_000_000),
            value=float(row.value),
            source="replay",
            ingested_at_ms=ISSUE_MS,
        )
        for row in week.itertuples()
    ]


@pytest.mark.integration
def test_java_consumes_what_python_produced(
    java_client: list[str], kafka_settings: Any, topic_factory: Any
) -> None:
    readings = _real_week_of_readings()
    assert len(readings) > 600  # a week at 15-minute resolution
    topics: dict[str, tuple[str, list[Message]]] = {
        "forecast_output": (topic_factory("forecast_output"), [forecast()]),
        "anomaly_output": (topic_factory("anomaly_output"), [anomaly()]),
        "rebalance_actions": (topic_factory("rebalance_actions"), [action()]),
        "raw_energy_data": (topic_factory("raw_energy_data"), readings),
    }
    producer = MessageProducer(kafka_settings)
    expected: dict[tuple[str, str], list[Message]] = {}
    for topic, messages in topics.values():
        for message in messages:
            key = str(getattr(message, "series_id", "") or getattr(message, "region", ""))
            producer.send(topic, key, message)
            expected.setdefault((topic, key), []).append(message)
    producer.flush()
    total = sum(len(messages) for _, messages in topics.values())
    cmd = [
        *java_client,
        "consume",
        "-b",
        kafka_settings.bootstrap,
        "--from-beginning",
        "--max-messages",
        str(total),
        "--idle-ms",
        "30000",
    ]
    for topic, _ in topics.values():
        cmd += ["-t", topic]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == total
    received: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in sorted(lines, key=lambda r: (r["topic"], r["partition"], r["offset"])):
        assert record["schema"] == "1"
        assert record["type"] == expected[(record["topic"], record["key"])][0].DESCRIPTOR.full_name
        received.setdefault((record["topic"], record["key"]), []).append(record["value"])
    assert received.keys() == expected.keys()
    for where, messages in expected.items():
        values = received[where]  # one key is one partition: order is kept
        assert len(values) == len(messages), where
        for value, message in zip(values, messages, strict=True):
            _assert_same(value, message)
