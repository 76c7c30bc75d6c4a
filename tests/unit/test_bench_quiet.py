"""The benchmark starts its latency phase only once the services have gone quiet."""

from __future__ import annotations

from pathlib import Path

from gridstream.bench.processes import ChildSet

BUSY_THEN_IDLE = (
    "import time\nend = time.monotonic() + {busy}\n"
    "while time.monotonic() < end: pass\ntime.sleep(60)"
)


def test_waits_while_a_child_is_busy_and_not_after(tmp_path: Path) -> None:
    children = ChildSet({}, tmp_path)
    try:
        children._spawn("busy", ["-c", BUSY_THEN_IDLE.format(busy=2.5)], None)
        waited = children.wait_quiet(window_s=1.0, max_cores=0.2, timeout_s=30)
        assert 2.0 <= waited < 10, waited  # busy for 2.5 s, then one quiet window
        again = children.wait_quiet(window_s=1.0, max_cores=0.2, timeout_s=30)
        assert again < 1.9, again  # already quiet: one window
    finally:
        children.close(grace_s=2)


def test_gives_up_after_the_timeout(tmp_path: Path) -> None:
    children = ChildSet({}, tmp_path)
    try:
        children._spawn("busy", ["-c", BUSY_THEN_IDLE.format(busy=30)], None)
        waited = children.wait_quiet(window_s=0.5, max_cores=0.2, timeout_s=1.5)
        assert 1.5 <= waited < 4, waited
    finally:
        children.close(grace_s=2)
