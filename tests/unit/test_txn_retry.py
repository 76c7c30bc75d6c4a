"""Transactional call guards: retries of retriable Kafka errors, and the bound on calls that
ignore their own timeout (the librdkafka coordinator hang)."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from gridstream.bus.txn_retry import Limits, StuckClient, bounded, guarded, with_retries


def _error(code: int, retriable: bool) -> KafkaException:
    return KafkaException(KafkaError(code, "test error", retriable=retriable))


def test_retriable_errors_are_retried_until_the_call_succeeds() -> None:
    calls = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise _error(KafkaError._TRANSPORT, retriable=True)
        return "committed"

    assert with_retries(flaky, "commit", patience_s=30) == "committed"
    assert len(calls) == 3
    assert calls[2] - calls[1] > calls[1] - calls[0]  # the backoff grows


def test_non_retriable_errors_and_exhausted_patience_are_raised() -> None:
    calls = []

    def fatal() -> None:
        calls.append(1)
        raise _error(KafkaError._FENCED, retriable=False)

    with pytest.raises(KafkaException):
        with_retries(fatal, "commit", patience_s=30)
    assert calls == [1]

    def always_down() -> None:
        raise _error(KafkaError._TRANSPORT, retriable=True)

    started = time.monotonic()
    with pytest.raises(KafkaException):
        with_retries(always_down, "commit", patience_s=1.0)
    assert time.monotonic() - started < 5


def test_a_stop_request_ends_the_retries() -> None:
    stop = threading.Event()
    stop.set()
    calls = []

    def down() -> None:
        calls.append(1)
        raise _error(KafkaError._TRANSPORT, retriable=True)

    with pytest.raises(KafkaException):
        with_retries(down, "commit", stop=stop, patience_s=30)
    assert calls == [1]


def test_bounded_returns_values_and_passes_errors_through() -> None:
    assert bounded(lambda: 42, 1.0, "answer", grace_s=1.0) == 42

    def broken() -> None:
        raise _error(KafkaError._TRANSPORT, retriable=True)

    with pytest.raises(KafkaException):
        bounded(broken, 1.0, "broken", grace_s=1.0)


def test_a_call_that_ignores_its_timeout_raises_stuck_client() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(StuckClient, match="offsets"):
        bounded(lambda: release.wait(30), 0.2, "adding offsets", grace_s=0.3)
    assert time.monotonic() - started < 5
    release.set()


def test_calls_after_a_stuck_one_run_on_a_fresh_helper() -> None:
    release = threading.Event()
    with pytest.raises(StuckClient):
        bounded(lambda: release.wait(30), 0.1, "commit", grace_s=0.1)
    # the stuck helper still holds the first call: the next must not queue behind it
    assert bounded(lambda: threading.current_thread().name, 1.0, "next", grace_s=1.0) == (
        "bounded-call"
    )
    assert not release.is_set()
    release.set()


def test_consecutive_calls_share_one_helper_thread() -> None:
    idents = {bounded(threading.get_ident, 1.0, "ident", grace_s=1.0) for _ in range(5)}
    assert len(idents) == 1
    assert threading.get_ident() not in idents


def test_guarded_passes_its_timeout_and_gives_up_on_a_wedged_client() -> None:
    limits = Limits(timeout_s=0.2, patience_s=1.0, grace_s=0.1)
    seen: list[float] = []

    def commit(timeout: float) -> str:
        seen.append(timeout)
        return "done"

    assert guarded(commit, limits, "commit", threading.Event()) == "done"
    assert seen == [0.2]

    def timing_out(timeout: float) -> None:
        raise _error(KafkaError._TIMED_OUT, retriable=True)

    started = time.monotonic()
    with pytest.raises(StuckClient, match="kept failing"):
        guarded(timing_out, limits, "commit", threading.Event())
    assert time.monotonic() - started < 5

    def hanging(timeout: float) -> None:
        time.sleep(2.0)  # ignores its timeout, like the coordinator hang

    with pytest.raises(StuckClient, match="did not return"):
        guarded(hanging, limits, "offsets", threading.Event())


def test_guarded_raises_other_errors_and_stops_unchanged() -> None:
    limits = Limits(timeout_s=1.0, patience_s=30.0)

    def fenced(timeout: float) -> None:
        raise _error(KafkaError._FENCED, retriable=False)

    with pytest.raises(KafkaException):
        guarded(fenced, limits, "commit", threading.Event())
    stop = threading.Event()
    stop.set()

    def down(timeout: float) -> None:
        raise _error(KafkaError._TRANSPORT, retriable=True)

    with pytest.raises(KafkaException):  # stopping: not a wedged client
        guarded(down, limits, "commit", stop)
