"""The logger librdkafka's messages go to, with repeats folded.

While a broker is away every client logs each failed reconnect: a verification run's dozen
topic readers wrote 1,200 ``Connect to ... failed`` lines in the two seconds of a broker
restart, and a service logs one per backoff for as long as the broker stays down. The first
of a kind is logged; the same message (numbers aside) again within ``window_s`` is counted
instead, and the next one after the window says how many were left out.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

LOGGER_NAME = "gridstream.bus.librdkafka"

_NUMBERS = re.compile(r"\d+")


class RepeatFilter(logging.Filter):
    """Pass the first record of a kind per window; count the rest and report them later."""

    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, str], tuple[float, int]] = {}  # kind -> (logged at, held)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        kind = (record.levelno, _NUMBERS.sub("#", message))
        now = self._clock()
        with self._lock:
            logged_at, held = self._seen.get(kind, (-float("inf"), 0))
            if now - logged_at < self.window_s:
                self._seen[kind] = (logged_at, held + 1)
                return False
            self._seen[kind] = (now, 0)
            if len(self._seen) > 1000:  # forget kinds whose window is long over
                self._seen = {
                    k: v for k, v in self._seen.items() if now - v[0] < self.window_s or v[1]
                }
        if held:
            record.msg = f"{message} ({held} more like this not logged)"
            record.args = None
        return True


_install_lock = threading.Lock()


def client_logger() -> logging.Logger:
    """The logger for librdkafka's ``logger`` client property (repeats folded)."""
    logger = logging.getLogger(LOGGER_NAME)
    with _install_lock:
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter())
    return logger
