"""Process-level memory settings for the long-running services.

glibc gives each thread that contends for the heap its own malloc arena (up to 8 per core).
A service has several: the Kafka loop, librdkafka's broker threads, the HTTP server, the
helper that runs blocking transaction calls, the trainer's training thread. Objects freed in
one arena cannot be reused by another thread's allocations, so a service that churns through
batches holds memory in every arena it touched. Capping the arenas trades a little lock
contention (the services are mostly single-threaded Python) for a smaller resident set: on the
year benchmark the ml-preprocessor's peak was 302.6 MB with glibc's default and 269.9-300.1 MB
in three runs with two arenas (its transient spikes remain).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

#: glibc's ``mallopt`` parameter for the most arenas (``M_ARENA_MAX`` in malloc.h)
M_ARENA_MAX = -8


def _libc_function(symbol: str) -> Any:
    """The C library's ``symbol`` on Linux; None elsewhere or where it lacks it (musl)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), symbol)
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas for this process; True when applied.

    ``arenas`` <= 0 leaves glibc's default. Does nothing (False) off Linux or on a C library
    without ``mallopt`` (musl), so it is safe to call everywhere. Call it early: arenas that
    already exist stay.
    """
    if arenas <= 0:
        return False
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_ARENA_MAX, arenas))
    if not applied:
        log.warning("could not cap malloc arenas at %d", arenas)
    return applied


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the kernel (glibc ``malloc_trim``); True if any were.

    After a burst of large temporary arrays (a training run) glibc keeps the freed memory
    mapped for reuse, so the resident set stays near the burst's peak until the next one.
    Does nothing (False) off Linux or without glibc's ``malloc_trim``."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
