"""librdkafka's log lines: a storm of repeats is folded into one line and a count."""

from __future__ import annotations

import logging

import pytest

from gridstream.bus.client_logs import LOGGER_NAME, RepeatFilter, client_logger

REFUSED = "FAIL [svc#consumer-%d] [thrd:127.0.0.1:9092/bootstrap]: Connect failed after %dms"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(LOGGER_NAME, level, __file__, 1, msg, args, None)


def test_repeats_within_the_window_are_counted_then_reported() -> None:
    clock = Clock()
    folded = RepeatFilter(window_s=10.0, clock=clock)
    assert folded.filter(record(REFUSED, 3, 0))
    # the same failure from another client, another backoff: same kind, held back
    assert [folded.filter(record(REFUSED, 4, n)) for n in range(5)] == [False] * 5
    # another kind of message still passes
    assert folded.filter(record("Disconnected from 127.0.0.1:9092/1"))
    clock.now += 10.5
    again = record(REFUSED, 3, 7)
    assert folded.filter(again)
    assert again.getMessage().endswith("(5 more like this not logged)")
    assert again.getMessage().startswith("FAIL [svc#consumer-3]")
    # the count starts over after a report
    clock.now += 1.0
    assert not folded.filter(record(REFUSED, 3, 9))


def test_the_level_is_part_of_the_kind() -> None:
    folded = RepeatFilter(window_s=10.0, clock=Clock())
    assert folded.filter(record(REFUSED, 1, 0, level=logging.ERROR))
    assert folded.filter(record(REFUSED, 1, 0, level=logging.WARNING))


def test_client_logger_installs_one_filter(caplog: pytest.LogCaptureFixture) -> None:
    logger = client_logger()
    assert client_logger() is logger
    assert sum(isinstance(f, RepeatFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        for n in range(50):
            logger.error(REFUSED, 12, n)
    assert len([r for r in caplog.records if r.name == LOGGER_NAME]) == 1
