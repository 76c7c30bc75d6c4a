"""One month of real recorded data through smart-ingestor and smart-preprocessor on a real broker.

March 2022, ALL demand and wind plus ROI interconnection: the clean count equals the unique
non-null rows of the files (counted independently with pandas), the duplicated 1 March rows
appear once, the spring DST day has 92 quarter-hours, and the EWIC flatline that starts on
14 March is flagged STUCK with a single ``feed_stuck`` event.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from gridstream.bus.reader import read_topic
from gridstream.schemas import alert_pb2, common_pb2, readings_pb2
from gridstream.services.ingestor.jobs import ReplayJob
from gridstream.sources.recorded import list_files, read_frame

from .ingest_support import SMARTGRID, RunningPreprocessor, make_ingestor, ms, pipeline_settings

pytestmark = pytest.mark.integration

START = datetime(2022, 3, 1, tzinfo=UTC)  # 1 Mar is winter time: local midnight = UTC
END = datetime(2022, 4, 1, tzinfo=UTC)
DUBLIN = ZoneInfo("Europe/Dublin")


def _files():  # type: ignore[no-untyped-def]
    if not SMARTGRID.exists():
        pytest.skip(f"real data {SMARTGRID} is absent (../shared/data beside the repo)")
    return [
        *list_files(SMARTGRID, ["ALL"], ["demandactual", "windactual"], [2022]),
        *list_files(SMARTGRID, ["ROI"], ["interconnection"], [2022]),
    ]


def _in_window(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["ts"] >= pd.Timestamp(START)) & (frame["ts"] < pd.Timestamp(END))]


def _local_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(DUBLIN).date().isoformat()


def test_month_of_real_data_through_ingest_and_clean(kafka_bootstrap, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "recorded"
    folder.mkdir()
    for path in _files():
        (folder / path.name).symlink_to(path.resolve())
    files = list_files(folder)
    settings = pipeline_settings(kafka_bootstrap, unique("month"), tmp_path)
    with_dups = _in_window(read_frame(files, dedupe=False))
    unique_rows = _in_window(read_frame(files))
    assert len(with_dups) > len(unique_rows)  # the 1st-of-month repeats are in the files

    pre = RunningPreprocessor(settings, unique("group"))
    ingestor = make_ingestor(settings, batch_size=2000)
    try:
        sent = ingestor.execute(ReplayJob(folder, None, START, END))
        assert sent == len(with_dups)
        pre.wait_consumed(sent)
    finally:
        pre.stop()
        ingestor.sink.close()

    kafka = settings.kafka()
    clean = [
        r.value for r in read_topic(kafka, settings.topics.preprocessed, readings_pb2.CleanReading)
    ]
    ids = [c.record_id for c in clean]
    assert len(clean) == len(unique_rows)
    assert len(set(ids)) == len(ids)
    assert read_topic(kafka, settings.topics.dead_letter, readings_pb2.RawReading) == []

    per_day = Counter((c.series_id, _local_day(c.ts_ms)) for c in clean)
    raw_first = with_dups[(with_dups["field"] == "SYSTEM_DEMAND")]
    raw_first = raw_first[raw_first["ts"] < pd.Timestamp(datetime(2022, 3, 2, tzinfo=UTC))]
    assert len(raw_first) == 96 + 88  # the file repeats 00:00-21:45 on the 1st
    assert per_day[("ALL/SYSTEM_DEMAND", "2022-03-01")] == 96
    assert per_day[("ALL/SYSTEM_DEMAND", "2022-03-27")] == 92  # spring DST day
    assert per_day[("ALL/WIND_ACTUAL", "2022-03-27")] == 92

    ewic = sorted((c for c in clean if c.series_id == "ROI/INTER_EWIC"), key=lambda c: c.ts_ms)
    flat = [c for c in ewic if c.ts_ms >= ms(2022, 3, 16)]
    assert flat and all(c.value == 3.0 for c in flat)
    assert all(common_pb2.QUALITY_FLAG_STUCK in c.flags for c in flat)
    assert not any(
        common_pb2.QUALITY_FLAG_STUCK in c.flags for c in ewic if c.ts_ms < ms(2022, 3, 14)
    )

    events = [
        r.value for r in read_topic(kafka, settings.topics.system_events, alert_pb2.SystemEvent)
    ]
    stuck = [
        e for e in events if e.kind == "feed_stuck" and e.labels["series_id"] == "ROI/INTER_EWIC"
    ]
    assert len(stuck) == 1, [e.message for e in stuck]  # once per episode, not per reading
    assert ms(2022, 3, 14, 14) <= stuck[0].ts_ms <= ms(2022, 3, 16)
    assert not any(
        e.kind == "feed_recovered" and e.labels["series_id"] == "ROI/INTER_EWIC" for e in events
    )  # the flatline lasts until 19 April
