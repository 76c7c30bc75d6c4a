"""The dashboard's in-memory view of the pipeline: bounded windows, updated from Kafka.

The feed thread calls ``apply`` with decoded messages; HTTP handlers read ``snapshot`` and
``deltas_since``. Every ``apply`` batch becomes one numbered delta, kept in a short ring so a
browser on server-sent events receives exactly what changed since its last sequence number
(or a ``reset`` when it fell too far behind and must reload the snapshot).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.message import Message

from gridstream.dashboard import convert
from gridstream.dashboard.mode import StreamMode

Delta = dict[str, list[Any]]
KINDS = ("reading", "forecast", "anomaly", "alert", "schedule", "action", "dead_letter", "model")
KINDS_WITH_EVENT = (*KINDS, "event")


_CONVERTERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "reading": convert.reading,
    "forecast": convert.forecast,
    "anomaly": convert.anomaly,
    "alert": convert.alert,
    "schedule": convert.schedule,
    "action": convert.action,
    "dead_letter": convert.dead_letter,
    "model": convert.model_update,
    "event": convert.system_event,
}


def _size(delta: Delta) -> int:
    return sum(len(items) for items in delta.values())


def _convert(kind: str, msg: Any, whole: bool = True) -> dict[str, Any] | None:
    """The page's form of one message (None: nothing to show, e.g. a normal anomaly score);
    a forecast not ``whole`` keeps its first step only."""
    if kind == "anomaly" and not msg.is_anomaly:
        return None
    if kind == "forecast" and not whole:
        return convert.forecast(msg, steps=1)
    converter = _CONVERTERS.get(kind)
    return None if converter is None else converter(msg)


class DashboardState:
    """Thread-safe, bounded state. ``window`` bounds points per series."""

    def __init__(
        self,
        window: int = 3000,
        max_alerts: int = 300,
        max_actions: int = 200,
        delta_ring: int = 400,
        ring_items: int = 20_000,
        mode: StreamMode | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._window = window
        self._max_alerts = max_alerts
        self._max_actions = max_actions
        self._readings: dict[str, deque[list[float]]] = {}
        self._meta: dict[str, dict[str, str]] = {}
        self._bands: dict[str, deque[list[float]]] = {}
        self._forecasts: dict[str, dict[str, Any]] = {}
        self._anomalies: dict[str, deque[dict[str, Any]]] = {}
        self._alerts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._schedules: dict[str, dict[str, Any]] = {}
        self._actions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._dead: deque[dict[str, Any]] = deque(maxlen=20)
        self._dead_by_service: dict[str, int] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=30)
        self._counts: dict[str, int] = dict.fromkeys(KINDS_WITH_EVENT, 0)
        self._pipeline: list[dict[str, object]] = []
        self._seq = 0
        # the ring is bounded in batches and in items: during a replay at full speed 400
        # batches of a thousand forecasts would hold gigabytes, and the collector's passes
        # over them would stall every request for seconds
        self._ring: deque[tuple[int, Delta]] = deque(maxlen=delta_ring)
        self._ring_items_max = ring_items
        self._ring_items = 0
        self._mode = mode or StreamMode()
        self._mode_label = ""

    # ---- writing (feed thread) ---------------------------------------------------------
    def apply(self, items: Iterable[tuple[str, Message]]) -> int:
        """Fold a batch of (kind, message) into the state; return the new sequence number.

        Messages are converted before the lock is taken: the page's requests wait only for
        the few dictionary updates, not for decoding a batch of forecasts."""
        batch = list(items)
        # during a replay at full speed a batch holds several forecasts per series: the page
        # keeps the last one whole and only the first step (the band) of the others
        last_forecast: dict[str, int] = {}
        for i, (kind, msg) in enumerate(batch):
            if kind == "forecast":
                last_forecast[getattr(msg, "series_id", "")] = i
        converted = [
            (kind, _convert(kind, msg, whole=last_forecast.get(getattr(msg, "series_id", "")) == i))
            for i, (kind, msg) in enumerate(batch)
        ]
        delta: Delta = {}
        with self._lock:
            for kind, item in converted:
                if item is None:
                    continue
                self._store(kind, item)
                delta.setdefault(kind, []).append(item)
                self._counts[kind] = self._counts.get(kind, 0) + 1
            mode = self._mode.describe()
            if mode["label"] != self._mode_label:
                self._mode_label = mode["label"]
                delta["mode"] = [mode]
            if delta:
                self._seq += 1
                self._push(delta)
            return self._seq

    def _push(self, delta: Delta) -> None:  # under the lock
        if len(self._ring) == self._ring.maxlen:
            self._ring_items -= _size(self._ring[0][1])
        self._ring.append((self._seq, delta))
        self._ring_items += _size(delta)
        while len(self._ring) > 1 and self._ring_items > self._ring_items_max:
            _, dropped = self._ring.popleft()
            self._ring_items -= _size(dropped)

    def set_pipeline(self, probes: list[dict[str, object]]) -> None:
        with self._lock:
            self._pipeline = probes
            self._seq += 1
            self._push({"pipeline": [probes]})

    def _store(self, kind: str, item: dict[str, Any]) -> None:  # under the lock
        if kind == "reading":
            self._add_reading(item)
            self._mode.observe(item["source"], item["t"])
        elif kind == "forecast":
            self._forecasts[item["series"]] = item
            if item["steps"]:
                band = self._bands.setdefault(item["series"], deque(maxlen=self._window))
                first = item["steps"][0]
                while band and band[-1][0] >= first[0]:
                    band.pop()
                band.append(first)
        elif kind == "anomaly":
            self._anomalies.setdefault(item["series"], deque(maxlen=200)).append(item)
        elif kind == "alert":
            self._alerts.pop(item["id"], None)
            self._alerts[item["id"]] = item
            _trim(self._alerts, self._max_alerts)
        elif kind == "schedule":
            self._schedules[item["region"]] = item
        elif kind == "action":
            self._actions.pop(item["id"], None)
            self._actions[item["id"]] = item
            _trim(self._actions, self._max_actions)
        elif kind == "dead_letter":
            self._dead.append(item)
            self._dead_by_service[item["service"]] = (
                self._dead_by_service.get(item["service"], 0) + 1
            )
        elif kind == "model":
            self._models[item["series"]] = item
        elif kind == "event":
            self._events.append(item)

    def _add_reading(self, item: dict[str, Any]) -> None:
        series = item["series"]
        points = self._readings.get(series)
        if points is None:
            points = self._readings[series] = deque(maxlen=self._window)
        self._meta[series] = {
            "region": item["region"],
            "field": item["field"],
            "unit": item["unit"],
        }
        t, v = item["t"], item["v"]
        if points and points[-1][0] == t:
            points[-1] = [t, v]
        elif points and points[-1][0] > t:
            points.clear()  # the source went back in time (a replay restarted): start over
            points.append([t, v])
        else:
            points.append([t, v])

    # ---- reading (HTTP handlers) ----------------------------------------------------------
    @property
    def seq(self) -> int:
        with self._lock:
            return self._seq

    def deltas_since(self, seq: int) -> tuple[int, list[Delta]] | None:
        """Deltas after ``seq`` and the latest sequence; None when some were already dropped."""
        with self._lock:
            if seq >= self._seq:
                return self._seq, []
            if not self._ring or self._ring[0][0] > seq + 1:
                return None
            return self._seq, [d for s, d in self._ring if s > seq]

    def snapshot(self, region: str | None = None, since_ms: int | None = None) -> dict[str, Any]:
        """Everything the page draws; series filtered by region and by data time."""

        def keep(series: str) -> bool:
            # SNSP is published for the whole island only: every region shows it
            return region is None or series.split("/", 1)[0] == region or series == "ALL/SNSP_ALL"

        def recent(points: Iterable[list[float]]) -> list[list[float]]:
            return [p for p in points if since_ms is None or p[0] >= since_ms]

        with self._lock:
            return {
                "seq": self._seq,
                "series": {s: m for s, m in self._meta.items() if keep(s)},
                "readings": {s: recent(p) for s, p in self._readings.items() if keep(s)},
                "bands": {s: recent(b) for s, b in self._bands.items() if keep(s)},
                "forecasts": {s: f for s, f in self._forecasts.items() if keep(s)},
                "anomalies": {
                    s: [a for a in d if since_ms is None or a["t"] >= since_ms]
                    for s, d in self._anomalies.items()
                    if keep(s)
                },
                "alerts": list(reversed(self._alerts.values())),
                "schedules": dict(self._schedules),
                "actions": list(reversed(self._actions.values())),
                "dead_letters": {
                    "by_service": dict(self._dead_by_service),
                    "recent": list(self._dead),
                },
                "models": dict(self._models),
                "events": list(self._events),
                "counts": dict(self._counts),
                "pipeline": list(self._pipeline),
                "latest_ms": self._latest(),
                "mode": self._mode.describe(),
            }

    def latest_ms(self) -> int | None:
        """Data time of the newest reading (replays run in the past: ranges are relative to it)."""
        with self._lock:
            return self._latest()

    def _latest(self) -> int | None:
        ends = [int(p[-1][0]) for p in self._readings.values() if p]
        return max(ends) if ends else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def _trim(items: OrderedDict[str, dict[str, Any]], limit: int) -> None:
    """Drop the oldest entries, resolved/decided ones first, until ``limit`` remain."""
    while len(items) > limit:
        victim = next(
            (
                k
                for k, v in items.items()
                if v.get("state") == "resolved" or v.get("approval") not in (None, "proposed")
            ),
            next(iter(items)),
        )
        del items[victim]
