"""Operator commands from HTTP threads, run on the rebalancer's Kafka loop.

The ledger changes only on the worker thread, inside its Kafka transaction: an approval,
rejection or mode change is queued here, drained by ``punctuate`` (about once a second) and
its records are published in that transaction. The HTTP thread waits for the result.
"""

from __future__ import annotations

from gridstream.bus import command_queue
from gridstream.bus.command_queue import WorkerUnavailable

__all__ = ["CommandQueue", "WorkerUnavailable"]


class CommandQueue(command_queue.CommandQueue):
    """The rebalancer worker's command queue: callers wait up to 15 s."""

    def __init__(self) -> None:
        super().__init__(worker="rebalancer worker", timeout_s=15.0)
