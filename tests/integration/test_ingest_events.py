"""Known real events through ingestor + preprocessor: the autumn DST day and the Sep 2020 freeze.

The recorded autumn day (30 Oct 2022) lists the repeated hour 01:00-01:45 only once, so it
has 96 quarter-hours (not 100) and the cleaner flags a one-hour gap where the second
01:00-01:45 is missing. On 9-10 Sep 2020 the all-island demand and wind feeds froze.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gridstream.bus.reader import read_topic
from gridstream.schemas import alert_pb2, common_pb2, readings_pb2
from gridstream.services.ingestor.jobs import ReplayJob
from gridstream.sources.recorded import list_files

from .ingest_support import SMARTGRID, RunningPreprocessor, make_ingestor, ms, pipeline_settings

pytestmark = pytest.mark.integration
DUBLIN = ZoneInfo("Europe/Dublin")


def _local_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(DUBLIN).date().isoformat()


def test_autumn_dst_and_sep_2020_freeze(kafka_bootstrap, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not SMARTGRID.exists():
        pytest.skip(f"real data {SMARTGRID} is absent (../shared/data beside the repo)")
    folder = tmp_path / "recorded"
    folder.mkdir()
    for path in list_files(SMARTGRID, ["ALL"], ["demandactual", "windactual"], [2020, 2022]):
        (folder / path.name).symlink_to(path.resolve())
    settings = pipeline_settings(kafka_bootstrap, unique("events"), tmp_path)
    pre = RunningPreprocessor(settings, unique("group"))
    ingestor = make_ingestor(settings)
    try:
        sent = ingestor.execute(
            ReplayJob(
                folder, None, datetime(2020, 9, 8, tzinfo=UTC), datetime(2020, 9, 12, tzinfo=UTC)
            )
        )
        sent += ingestor.execute(
            ReplayJob(
                folder, None, datetime(2022, 10, 29, tzinfo=UTC), datetime(2022, 11, 1, tzinfo=UTC)
            )
        )
        pre.wait_consumed(sent)
    finally:
        pre.stop()
        ingestor.sink.close()
    kafka = settings.kafka()
    clean = [
        r.value for r in read_topic(kafka, settings.topics.preprocessed, readings_pb2.CleanReading)
    ]
    events = [
        r.value for r in read_topic(kafka, settings.topics.system_events, alert_pb2.SystemEvent)
    ]

    per_day = Counter((c.series_id, _local_day(c.ts_ms)) for c in clean)
    assert per_day[("ALL/SYSTEM_DEMAND", "2022-10-30")] == 96
    autumn = [
        c
        for c in clean
        if c.series_id == "ALL/SYSTEM_DEMAND" and _local_day(c.ts_ms) == "2022-10-30"
    ]
    span_h = (max(c.ts_ms for c in autumn) - min(c.ts_ms for c in autumn)) / 3_600_000
    assert span_h == 24.75  # 25 hours of UTC time, one of them missing in the recording
    gaps = [c for c in autumn if common_pb2.QUALITY_FLAG_GAP_BEFORE in c.flags]
    assert [c.gap_before_ms for c in gaps] == [3_600_000]

    for series in ("ALL/SYSTEM_DEMAND", "ALL/WIND_ACTUAL"):
        rows = [c for c in clean if c.series_id == series and c.ts_ms < ms(2021, 1, 1)]
        stuck = [c.ts_ms for c in rows if common_pb2.QUALITY_FLAG_STUCK in c.flags]
        assert stuck and all(ms(2020, 9, 9, 19) <= t <= ms(2020, 9, 10, 3) for t in stuck), series
        kinds = [
            e.kind
            for e in events
            if e.labels.get("series_id") == series and e.ts_ms < ms(2021, 1, 1)
        ]
        assert kinds.count("feed_stuck") == 1, series
        assert kinds.count("feed_recovered") == 1, series
