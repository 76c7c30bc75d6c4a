"""The shared command queue: results and errors cross threads; an unserved call times out."""

from __future__ import annotations

import threading

import pytest

from gridstream.bus.command_queue import CommandQueue, WorkerUnavailable
from gridstream.services.alert_engine.control import AlertControl
from gridstream.services.grid_rebalancer.control import CommandQueue as RebalanceQueue


def _serve(commands: CommandQueue, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(0.01):
            commands.run_pending()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_command_runs_on_the_worker_thread_and_returns_its_result() -> None:
    commands = CommandQueue(worker="test worker", timeout_s=5.0)
    stop = threading.Event()
    worker = _serve(commands, stop)
    try:
        ran_on = commands.call(lambda: threading.current_thread().ident)
    finally:
        stop.set()
        worker.join()
    assert ran_on == worker.ident
    assert ran_on != threading.current_thread().ident


def test_command_error_reaches_the_caller() -> None:
    commands = CommandQueue(worker="test worker", timeout_s=5.0)
    stop = threading.Event()
    worker = _serve(commands, stop)

    def fail() -> None:
        raise KeyError("no such alert")

    try:
        with pytest.raises(KeyError, match="no such alert"):
            commands.call(fail)
    finally:
        stop.set()
        worker.join()


def test_unserved_call_times_out_naming_the_worker_and_never_runs() -> None:
    ran: list[bool] = []
    for commands, name in (
        (AlertControl(), "alert worker"),
        (RebalanceQueue(), "rebalancer worker"),
    ):
        with pytest.raises(WorkerUnavailable, match=f"the {name} did not answer"):
            commands.call(lambda: ran.append(True), timeout_s=0.05)
        commands.run_pending()  # the cancelled command is skipped
    assert ran == []
