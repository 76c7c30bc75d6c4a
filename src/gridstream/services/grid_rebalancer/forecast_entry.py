"""A forecast's state entry (``fc|``/``fcb|`` keys) that reads its message only as needed.

The entry holds the forecast's steps as four lists in target order (``targets``, ``p10``,
``p50``, ``p90``; SNSP in percent scaled to a fraction). Building them reads every field of
the 96 steps, about a quarter of the rebalancer's CPU (``benchmarks/profile_rebalancer.py``),
yet most of it is never read: a decision reads the first window (an hour) of the newest
forecast of each series and one P50 at the observation's time, older buffered forecasts are
dropped unread, and only the entries still in state when the runner writes its changelog
are encoded.

So :class:`ForecastEntry` is the same dict with the four lists left out until a key of them
is read (``__missing__``) or the codec encodes it (:func:`filled`): the lists, and so the
state's bytes, are those built from the whole message. It keeps the decoded message, as the
storage optimiser's state keeps its forecasts: nothing changes a record's message after
``process``. :func:`window` and :func:`p50_at` read what a decision needs from either kind
of entry (a restored one is a plain dict).
"""

from __future__ import annotations

import bisect
from operator import attrgetter
from typing import Any

from gridstream.schemas import forecast_pb2

Entry = dict[str, Any]
STEP_KEYS = ("targets", "p10", "p50", "p90")
_ROW = attrgetter("p10", "p50", "p90")
_TARGET = attrgetter("target_time_ms")


class ForecastEntry(dict[str, Any]):
    """The entry of one forecast; its step lists are built from ``msg`` when first read."""

    def __init__(self, msg: forecast_pb2.Forecast, series: str) -> None:
        super().__init__(
            forecast_id=msg.forecast_id,
            model_version=msg.model_version,
            issue_ms=msg.issue_time_ms,
        )
        self._msg: forecast_pb2.Forecast | None = msg
        self._series = series
        self._targets: list[int] | None = None
        #: the steps' indexes in target order (stable), None while they are in order
        self._order: list[int] | None = None
        self._scale = 1.0

    def __missing__(self, key: str) -> Any:
        if key not in STEP_KEYS or self._msg is None:
            raise KeyError(key)
        self.fill()
        return dict.__getitem__(self, key)

    def targets(self) -> list[int]:
        """The target times in order (read once, without the quantiles)."""
        if self._targets is None:
            msg = self._msg
            assert msg is not None  # the lists were built from it after its targets
            times = list(map(_TARGET, msg.steps))
            ordered = sorted(times)  # linear on times in order, as they are published
            if ordered != times:
                self._order = sorted(range(len(times)), key=times.__getitem__)  # stable
                times = ordered
            self._targets = times
            # SNSP in percent (by its unit, or a P50 above 1.5 at the first step) -> fraction
            first = msg.steps[0 if self._order is None else self._order[0]]
            if self._series == "snsp" and (msg.unit == "%" or first.p50 > 1.5):
                self._scale = 0.01
        return self._targets

    def quantiles(self, index: int) -> tuple[float, float, float]:
        """P10, P50 and P90 (scaled) of the ``index``-th step in target order."""
        if self._msg is None:
            return self["p10"][index], self["p50"][index], self["p90"][index]
        self.targets()
        step = self._msg.steps[index if self._order is None else self._order[index]]
        scale = self._scale
        p10, p50, p90 = _ROW(step)
        return p10 * scale, p50 * scale, p90 * scale

    def fill(self) -> None:
        """Put the four step lists in (the entry as a plain dict would hold it)."""
        msg = self._msg
        if msg is None:
            return
        targets = self.targets()
        steps = msg.steps
        rows = list(map(_ROW, steps if self._order is None else [steps[i] for i in self._order]))
        scale = self._scale
        self["targets"] = targets
        self["p10"] = [r[0] * scale for r in rows]
        self["p50"] = [r[1] * scale for r in rows]
        self["p90"] = [r[2] * scale for r in rows]
        self._msg = None  # the lists stand for it now


def filled(entry: Entry) -> Entry:
    """``entry`` with every key in it, for the changelog codec."""
    if isinstance(entry, ForecastEntry):
        entry.fill()
    return entry


def _targets(entry: Entry) -> list[int]:
    return entry.targets() if isinstance(entry, ForecastEntry) else entry["targets"]


def window(entry: Entry, window_ms: int) -> tuple[int, int, float, float, float]:
    """Start and end of the window from the first target, and the P10/P50/P90 maxima of
    the targets before its end."""
    targets = _targets(entry)
    start = int(targets[0])
    count = bisect.bisect_left(targets, start + window_ms)
    if isinstance(entry, ForecastEntry):
        p10, p50, p90 = zip(*(entry.quantiles(i) for i in range(count)), strict=True)
    else:
        p10, p50, p90 = entry["p10"][:count], entry["p50"][:count], entry["p90"][:count]
    return start, start + window_ms, float(max(p10)), float(max(p50)), float(max(p90))


def p50_at(entry: Entry, ts: int) -> float | None:
    """The P50 the forecast gave for ``ts`` (None: not one of its targets)."""
    targets = _targets(entry)
    if ts not in targets:
        return None
    index = targets.index(ts)
    if isinstance(entry, ForecastEntry):
        return float(entry.quantiles(index)[1])
    return float(entry["p50"][index])
