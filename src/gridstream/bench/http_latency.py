"""How fast a running dashboard answers: ``gridstream bench-dashboard``.

Requests are sent one after another (a browser polling, not a load test) for ``seconds``,
alternating over the given paths; each answer's wall time is kept per path. Run it while
the pipeline works flat out (``gridstream up --speed max``) to see whether the dashboard is
starved by the pipeline's work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from gridstream.bench.latency import nearest_rank

PATHS = ("/api/snapshot?region=ALL", "/")  # what the page asks for first


@dataclass
class HttpLatency:
    samples_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)

    def percentile(self, path: str, q: float) -> float | None:
        return nearest_rank(self.samples_ms.get(path, []), q)

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        return {
            path: {
                "requests": len(values),
                "errors": self.errors.get(path, 0),
                "p50_ms": self.percentile(path, 50),
                "p95_ms": self.percentile(path, 95),
                "p99_ms": self.percentile(path, 99),
                "max_ms": round(max(values), 1) if values else None,
                "bytes": self.bytes.get(path, 0),
            }
            for path, values in self.samples_ms.items()
        }


def measure(
    base_url: str,
    seconds: float,
    paths: Sequence[str] = PATHS,
    pause_s: float = 0.05,
    timeout_s: float = 10.0,
    tick: Callable[[float], None] = lambda done: None,
) -> HttpLatency:
    """Time GET requests to ``paths`` of ``base_url`` for ``seconds`` of wall time."""
    result = HttpLatency({p: [] for p in paths})
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
        i = 0
        while (elapsed := time.monotonic() - started) < seconds:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            try:
                response = client.get(path)
                response.raise_for_status()
            except httpx.HTTPError:
                result.errors[path] = result.errors.get(path, 0) + 1
                continue
            result.samples_ms[path].append((time.perf_counter() - t0) * 1000)
            result.bytes[path] = len(response.content)
            tick(min(1.0, elapsed / seconds))
            time.sleep(pause_s)
    return result
