"""Splitting a requested time span into local-date chunks the EirGrid API accepts.

The API is asked by Irish local date. For long spans it silently answers an empty
``Rows`` list, so requests are kept short and an empty multi-day answer is split again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from gridstream.sources.local_time import IRISH_TZ


@dataclass(frozen=True)
class DateChunk:
    """Inclusive range of Irish local dates."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def halves(self) -> tuple[DateChunk, DateChunk]:
        """Two chunks covering this one (needs ``days >= 2``)."""
        mid = self.first + timedelta(days=self.days // 2 - 1)
        return DateChunk(self.first, mid), DateChunk(mid + timedelta(days=1), self.last)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive input is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The Irish local date of a moment."""
    return as_utc(moment).astimezone(ZoneInfo(IRISH_TZ)).date()


def split_dates(start: datetime, end: datetime, max_days: int) -> list[DateChunk]:
    """Chunks of at most ``max_days`` local dates covering ``[start, end)``."""
    if max_days < 1:
        raise ValueError("max_days must be at least 1")
    if as_utc(end) <= as_utc(start):
        return []
    first = local_date(start)
    last = local_date(as_utc(end) - timedelta(microseconds=1))
    out: list[DateChunk] = []
    day = first
    while day <= last:
        stop = min(last, day + timedelta(days=max_days - 1))
        out.append(DateChunk(day, stop))
        day = stop + timedelta(days=1)
    return out
