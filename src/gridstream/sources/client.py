"""Async client of the EirGrid Smart Grid Dashboard.

``EirGridClient.fetch(area, region, start, end)`` returns the non-null readings of one
area/region in ``[start, end)``, sorted by time and unique per record id. Requests go to the
current ``api/chart/`` endpoint, falling back to the legacy ``DashboardService.svc/data``;
each is rate-limited and retried (timeouts, connection errors, 5xx, 429 with Retry-After,
malformed JSON) with exponential backoff and jitter. A span the API could not deliver is
recorded in ``client.gaps`` for a later backfill instead of failing the whole fetch.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

import httpx

from gridstream.errors import GridstreamError
from gridstream.schemas import readings_pb2
from gridstream.sources.api_parse import ApiResponseError, ParsedAnswer, parse_body
from gridstream.sources.chunks import DateChunk, as_utc, split_dates
from gridstream.sources.gaps import Gap
from gridstream.sources.retry import BackoffPolicy, RateLimiter, retry_after_seconds

log = logging.getLogger(__name__)

CHART = "chart"
LEGACY = "legacy"


class EirGridRequestError(GridstreamError):
    """A request to the EirGrid API failed for good (after its retries)."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ClientSettings:
    """Where and how politely to ask the API."""

    base_url: str = "https://www.smartgriddashboard.com"
    chart_path: str = "/api/chart/"
    legacy_path: str = "/DashboardService.svc/data"
    endpoints: tuple[str, ...] = (CHART, LEGACY)
    timeout_s: float = 20.0
    requests_per_s: float = 2.0
    chunk_days: int = 1
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    user_agent: str = "gridstream/0.1 (+grid data pipeline)"


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    failures: int = 0
    last_error: str = ""


class EirGridClient:
    """See the module docstring. Use as ``async with EirGridClient() as client: ...``."""

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or ClientSettings()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=self.settings.timeout_s,
            headers={"User-Agent": self.settings.user_agent},
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self._limiter = RateLimiter(self.settings.requests_per_s, sleep=sleep)
        self.gaps: list[Gap] = []
        self.stats = ClientStats()

    async def __aenter__(self) -> EirGridClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def take_gaps(self) -> list[Gap]:
        """The gaps recorded so far, forgetting them."""
        gaps, self.gaps = self.gaps, []
        return gaps

    async def fetch(
        self, area: str, region: str, start: datetime, end: datetime, *, source: str = "backfill"
    ) -> list[readings_pb2.RawReading]:
        """Non-null readings of ``area``/``region`` with ``start <= ts < end`` (UTC)."""
        start_ms = int(as_utc(start).timestamp() * 1000)
        end_ms = int(as_utc(end).timestamp() * 1000)
        by_id: dict[str, readings_pb2.RawReading] = {}
        for chunk in split_dates(start, end, self.settings.chunk_days):
            for reading in await self._fetch_chunk(area, region, chunk, source):
                if start_ms <= reading.ts_ms < end_ms:
                    by_id[reading.record_id] = reading
        return sorted(by_id.values(), key=lambda r: (r.ts_ms, r.series_id))

    async def _fetch_chunk(
        self, area: str, region: str, chunk: DateChunk, source: str
    ) -> list[readings_pb2.RawReading]:
        reasons: list[str] = []
        for endpoint in self.settings.endpoints:
            try:
                answer = await self._request(endpoint, area, region, chunk, source)
            except EirGridRequestError as exc:
                reasons.append(f"{endpoint}: {exc}")
                log.warning(
                    "EirGrid %s %s/%s %s..%s failed: %s",
                    endpoint,
                    area,
                    region,
                    chunk.first,
                    chunk.last,
                    exc,
                )
                continue
            if answer.readings:
                return answer.readings
            if answer.null_rows and answer.null_rows == answer.total_rows:
                return []  # only future rows: nothing published yet, not a gap
            if chunk.days > 1:
                log.info("empty answer for %d days of %s/%s; splitting", chunk.days, area, region)
                first, second = chunk.halves()
                return [
                    *await self._fetch_chunk(area, region, first, source),
                    *await self._fetch_chunk(area, region, second, source),
                ]
            reasons.append(f"{endpoint}: empty Rows")
        reason = "; ".join(reasons) or "no endpoint configured"
        self.gaps.append(Gap(area, region, chunk.first, chunk.last, reason))
        self.stats.failures += 1
        self.stats.last_error = reason
        return []

    def _params(self, endpoint: str, area: str, region: str, chunk: DateChunk) -> dict[str, str]:
        first = chunk.first.strftime("%d-%b-%Y")
        last = chunk.last.strftime("%d-%b-%Y")
        if endpoint == CHART:
            return {
                "region": region,
                "chartType": "default",
                "dateRange": "day",
                "dateFrom": first,
                "dateTo": last,
                "areas": area,
            }
        return {
            "area": area,
            "region": region,
            "datefrom": f"{first} 00:00",
            "dateto": f"{last} 23:59",
        }

    async def _request(
        self, endpoint: str, area: str, region: str, chunk: DateChunk, source: str
    ) -> ParsedAnswer:
        path = self.settings.chart_path if endpoint == CHART else self.settings.legacy_path
        params = self._params(endpoint, area, region, chunk)
        policy = self.settings.backoff
        for attempt in range(policy.max_retries + 1):
            await self._limiter.acquire()
            self.stats.requests += 1
            delay: float | None = None
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException:
                reason = f"timed out after {self.settings.timeout_s} s"
            except httpx.TransportError as exc:
                reason = f"connection failed ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 429:
                    reason = "rate limited (429)"
                    delay = retry_after_seconds(response.headers.get("Retry-After"))
                elif status >= 500:
                    reason = f"server error {status}"
                elif status >= 400:
                    raise EirGridRequestError(f"HTTP {status} for {path}", retryable=False)
                else:
                    try:
                        return parse_body(
                            response.content,
                            area=area,
                            source=source,
                            ingested_at_ms=int(self._wall_clock() * 1000),
                        )
                    except ApiResponseError as exc:
                        reason = str(exc)
            self.stats.last_error = reason
            if attempt == policy.max_retries:
                break
            wait = policy.delay(attempt, self._rng) if delay is None else min(delay, policy.cap_s)
            self.stats.retries += 1
            log.info("retrying %s in %.2f s: %s", path, wait, reason)
            await self._sleep(wait)
        raise EirGridRequestError(f"{reason}; gave up after {policy.max_retries + 1} attempts")
