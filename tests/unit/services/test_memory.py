"""The malloc arena cap: applied on glibc Linux, and threads then share the capped arenas."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from gridstream.services.memory import limit_malloc_arenas

_COUNT_HEAPS = textwrap.dedent(
    """
    import ctypes, ctypes.util, os, sys, tempfile, threading
    from gridstream.services.memory import limit_malloc_arenas
    cap = int(sys.argv[1])
    applied = limit_malloc_arenas(cap)
    keep = []
    together = threading.Barrier(6)
    def work():
        together.wait()  # all six threads alive at once, none can hand its arena on
        keep.append([bytearray(100_000) for _ in range(20)])  # below the mmap threshold
        together.wait()
    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    path = tempfile.mktemp()
    fp = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(applied, open(path).read().count("<heap nr="))
    os.unlink(path)
    """
)


def _heaps(cap: int) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _COUNT_HEAPS, str(cap)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return out[0], int(out[1])


def test_zero_keeps_the_default() -> None:
    assert limit_malloc_arenas(0) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_cap_limits_the_arenas_threads_use() -> None:
    applied, capped = _heaps(2)
    assert applied == "True"
    assert capped <= 2
    _, default = _heaps(0)
    assert default > capped  # six allocating threads get arenas of their own without the cap
