"""NAB anomaly windows as row indices, and the probationary period."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridstream.errors import ValidationError

PROBATION_PERCENT = 0.15
_PROBATION_CAP_ROWS = 5000


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that are never scored (NAB: 15 % of the file, at most 750)."""
    return int(min(math.floor(percent * n_rows), percent * _PROBATION_CAP_ROWS))


@dataclass(frozen=True)
class Window:
    """An anomaly window as inclusive row indices ``[start, end]`` of one file."""

    start: int
    end: int

    @property
    def width(self) -> int:
        return self.end - self.start + 1


def windows_to_indices(
    timestamps: npt.NDArray[np.datetime64], limits: Sequence[Sequence[str]], file: str = ""
) -> list[Window]:
    """Map ``[start, end]`` timestamp strings onto rows of a file with sorted ``timestamps``.

    A window edge that is not exactly a row's timestamp snaps inwards (to the first row at or
    after the start, the last row at or before the end).
    """
    out: list[Window] = []
    for pair in limits:
        if len(pair) != 2:
            raise ValidationError(f"window {pair!r} of {file!r} must be [start, end]")
        start_ts = np.datetime64(str(pair[0]).strip().replace(" ", "T"), "ns")
        end_ts = np.datetime64(str(pair[1]).strip().replace(" ", "T"), "ns")
        start = int(np.searchsorted(timestamps, start_ts, side="left"))
        end = int(np.searchsorted(timestamps, end_ts, side="right")) - 1
        if end < start:
            raise ValidationError(
                f"window {pair!r} of {file!r} holds no rows; check the labels file matches the data"
            )
        out.append(Window(start, end))
    out.sort(key=lambda w: w.start)
    for prev, cur in itertools.pairwise(out):
        if cur.start <= prev.end:
            raise ValidationError(f"windows {prev} and {cur} of {file!r} overlap")
    return out
