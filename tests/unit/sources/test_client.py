"""EirGridClient against a real local HTTP server serving the recorded API fixtures."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime

from gridstream.sources.client import CHART, LEGACY, ClientSettings, EirGridClient
from gridstream.sources.retry import BackoffPolicy

from .conftest import FIXTURES, Answer, ScriptedServer, need

CHART_PATH = "/api/chart/"
LEGACY_PATH = "/DashboardService.svc/data"


def fixture_bytes(name: str) -> bytes:
    return (need(FIXTURES) / name).read_bytes()


def make_client(server: ScriptedServer, delays: list[float], **overrides: object) -> EirGridClient:
    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    settings = ClientSettings(
        base_url=server.url,
        timeout_s=float(overrides.pop("timeout_s", 2.0)),  # type: ignore[arg-type]
        requests_per_s=1000.0,
        backoff=BackoffPolicy(base_s=0.5, cap_s=8.0, max_retries=3),
        **overrides,  # type: ignore[arg-type]
    )
    return EirGridClient(settings, sleep=fake_sleep, rng=random.Random(1))


def fetch(client: EirGridClient, area: str, region: str, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with client:
            return await client.fetch(area, region, start, end)

    return asyncio.run(run())


JUN4 = (datetime(2025, 6, 3, 23, 0, tzinfo=UTC), datetime(2025, 6, 4, 23, 0, tzinfo=UTC))


def test_parses_fixture_and_drops_null_rows(http_server: ScriptedServer) -> None:
    body = fixture_bytes("windProduction.json")
    rows = json.loads(body)["Rows"]
    http_server.script[CHART_PATH] = [Answer(body=body)]
    readings = fetch(make_client(http_server, []), "windactual", "ROI", *JUN4)
    non_null = [r for r in rows if r["Value"] is not None]
    assert len(readings) == len(non_null) == 76
    assert [r.value for r in readings] == [float(r["Value"]) for r in non_null]
    first = readings[0]
    assert first.series_id == "ROI/WIND_ACTUAL"
    assert first.record_id == f"ROI/WIND_ACTUAL@{first.ts_ms}"
    # 04-Jun-2025 00:00 Irish summer time is 03-Jun 23:00 UTC
    assert first.ts_ms == int(datetime(2025, 6, 3, 23, 0, tzinfo=UTC).timestamp() * 1000)
    assert first.unit == "MW" and first.area == "windactual"
    path, params = http_server.requests[0]
    assert path == CHART_PATH
    assert params["areas"] == ["windactual"] and params["region"] == ["ROI"]
    assert params["dateFrom"] == ["04-Jun-2025"] and params["dateRange"] == ["day"]


def test_retries_5xx_then_succeeds(http_server: ScriptedServer) -> None:
    body = fixture_bytes("solarProduction.json")
    http_server.script[CHART_PATH] = [Answer(503, b"busy"), Answer(502, b"bad"), Answer(body=body)]
    delays: list[float] = []
    client = make_client(http_server, delays)
    readings = fetch(client, "solaractual", "ROI", *JUN4)
    assert len(readings) == 76
    assert len(http_server.requests) == 3
    # equal jitter: attempt 0 waits in [0.25, 0.5], attempt 1 in [0.5, 1.0]
    assert 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0
    assert client.gaps == []


def test_429_honours_retry_after(http_server: ScriptedServer) -> None:
    body = fixture_bytes("generation.json")
    http_server.script[CHART_PATH] = [
        Answer(429, b"slow down", headers={"Retry-After": "7"}),
        Answer(body=body),
    ]
    delays: list[float] = []
    readings = fetch(make_client(http_server, delays), "generationactual", "ROI", *JUN4)
    assert len(readings) == 75
    assert delays == [7.0]


def test_timeouts_and_malformed_json_fall_back_to_legacy(http_server: ScriptedServer) -> None:
    body = fixture_bytes("generation_2023-11-07_to_10.json")
    http_server.script[CHART_PATH] = [Answer(delay_s=0.6), Answer(body=b'{"Rows": [')]
    http_server.script[LEGACY_PATH] = [Answer(body=body)]
    delays: list[float] = []
    client = make_client(http_server, delays, timeout_s=0.2)
    start = datetime(2023, 11, 7, 0, 0, tzinfo=UTC)
    readings = fetch(client, "generationactual", "ROI", start, datetime(2023, 11, 8, tzinfo=UTC))
    assert len(readings) == 96  # one day of the three-day answer
    paths = [p for p, _ in http_server.requests]
    assert paths.count(CHART_PATH) == 4 and paths[-1] == LEGACY_PATH
    assert client.stats.retries == 3
    assert client.gaps == []
    legacy_params = http_server.requests[-1][1]
    assert legacy_params["datefrom"] == ["07-Nov-2023 00:00"]


def test_persistent_failure_records_gap_without_crashing(http_server: ScriptedServer) -> None:
    http_server.script[CHART_PATH] = [Answer(500, b"down")]
    http_server.script[LEGACY_PATH] = [Answer(body=b"<html>not json</html>")]
    client = make_client(http_server, [])
    start = datetime(2024, 1, 1, tzinfo=UTC)
    readings = fetch(client, "demandactual", "ALL", start, datetime(2024, 1, 3, tzinfo=UTC))
    assert readings == []
    assert [(g.first.isoformat(), g.last.isoformat()) for g in client.gaps] == [
        ("2024-01-01", "2024-01-01"),
        ("2024-01-02", "2024-01-02"),
    ]
    assert "server error 500" in client.gaps[0].reason
    assert "malformed JSON" in client.gaps[0].reason
    assert len(http_server.requests) == 2 * 2 * 4  # 2 days x 2 endpoints x 4 attempts


def test_empty_rows_for_a_long_span_is_split(http_server: ScriptedServer) -> None:
    body = fixture_bytes("consumption.json")
    http_server.script[CHART_PATH] = [Answer(body=b'{"Rows": []}'), Answer(body=body)]
    client = make_client(http_server, [], chunk_days=4, endpoints=(CHART,))
    start = datetime(2023, 11, 4, tzinfo=UTC)
    readings = fetch(client, "demandactual", "NI", start, datetime(2023, 11, 8, tzinfo=UTC))
    rows = json.loads(body)["Rows"]
    assert len(readings) == sum(r["Value"] is not None for r in rows)  # halves deduplicated
    first_params = http_server.requests[0][1]
    second_params = http_server.requests[1][1]
    assert first_params["dateFrom"] == ["04-Nov-2023"] and first_params["dateTo"] == ["07-Nov-2023"]
    assert second_params["dateTo"] == ["05-Nov-2023"]  # the empty 4-day span was halved
    assert client.gaps == []


def test_empty_single_day_records_gap(http_server: ScriptedServer) -> None:
    http_server.script[CHART_PATH] = [Answer(body=b'{"Rows": []}')]
    client = make_client(http_server, [], endpoints=(CHART, LEGACY))
    http_server.script[LEGACY_PATH] = [Answer(body=b'{"Rows": []}')]
    start = datetime(2024, 2, 1, tzinfo=UTC)
    assert fetch(client, "co2intensity", "NI", start, datetime(2024, 2, 2, tzinfo=UTC)) == []
    assert len(client.gaps) == 1 and "empty Rows" in client.gaps[0].reason
