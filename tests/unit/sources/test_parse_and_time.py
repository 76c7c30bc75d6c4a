"""API parsing (examples and properties) and Irish local time on both DST days."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridstream.sources.api_parse import ApiResponseError, parse_body, parse_document
from gridstream.sources.local_time import local_to_utc, utc_ms_to_wall, wall_to_utc_ms
from gridstream.sources.records import split_record_id

from .conftest import FIXTURES, need


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")) or ["none"])
def test_every_fixture_parses_to_its_non_null_rows(name: str) -> None:
    body = (need(FIXTURES) / name).read_bytes()
    rows = json.loads(body)["Rows"]
    answer = parse_body(body, source="live")
    assert answer.total_rows == len(rows)
    assert answer.null_rows == sum(r["Value"] is None for r in rows)
    assert len(answer.readings) == len(rows) - answer.null_rows
    assert len({r.record_id for r in answer.readings}) == len(answer.readings)
    assert all(split_record_id(r.record_id) == (r.series_id, r.ts_ms) for r in answer.readings)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"Rows": 3}',
        b'{"Rows": [{"FieldName": "X"}]}',
        b'{"Status": "Error"}',
        b'{"Rows": [{"EffectiveTime": "2024-01-01", "FieldName": "X", "Region": "ALL",'
        b' "Value": 1}]}',
        b'{"Rows": [{"EffectiveTime": "01-Jan-2024 00:00:00", "FieldName": "X", "Region": "ALL",'
        b' "Value": "abc"}]}',
    ],
)
def test_malformed_answers_raise_typed_error(body: bytes) -> None:
    with pytest.raises(ApiResponseError):
        parse_body(body)


_WALL = st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2030, 12, 31))


@given(
    st.lists(
        st.tuples(
            _WALL.map(lambda d: d.replace(second=0, microsecond=0)),
            st.sampled_from(["SYSTEM_DEMAND", "WIND_ACTUAL", "INTER_EWIC"]),
            st.one_of(st.none(), st.integers(-500, 9000), st.floats(-500, 9000)),
        ),
        max_size=30,
    )
)
def test_parse_property_counts_and_roundtrip(rows: list[tuple[datetime, str, object]]) -> None:
    doc = {
        "Rows": [
            {
                "EffectiveTime": t.strftime("%d-%b-%Y %H:%M:%S"),
                "FieldName": f,
                "Region": "ROI",
                "Value": v,
            }
            for t, f, v in rows
        ]
    }
    answer = parse_document(json.loads(json.dumps(doc)))
    assert answer.total_rows == len(rows)
    assert answer.null_rows + answer.nonexistent_rows + len(answer.readings) == len(rows)
    for reading in answer.readings:
        assert reading.series_id == f"ROI/{reading.field}"
        # a reading's UTC time shows the published wall time again (except the autumn repeat)
        wall = utc_ms_to_wall(reading.ts_ms)
        assert wall == reading.effective_time


@given(_WALL)
def test_scalar_conversion_agrees_with_vectorised(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0)
    vector = local_to_utc(pd.Series([moment]))
    scalar = wall_to_utc_ms(moment)
    if pd.isna(vector.iloc[0]):
        assert scalar is None
    else:
        assert scalar == int(vector.iloc[0].timestamp() * 1000)


def test_spring_gap_and_autumn_repeat() -> None:
    assert wall_to_utc_ms(datetime(2022, 3, 27, 1, 30)) is None
    first = wall_to_utc_ms(datetime(2022, 10, 30, 1, 30))
    second = wall_to_utc_ms(datetime(2022, 10, 30, 1, 30), second_occurrence=True)
    assert first is not None and second is not None
    assert second - first == int(timedelta(hours=1).total_seconds() * 1000)
