"""Spans the API could not deliver, kept for a later backfill."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date


@dataclass(frozen=True)
class Gap:
    """Local dates ``first..last`` of ``area``/``region`` missing, and why."""

    area: str
    region: str
    first: date
    last: date
    reason: str

    def to_dict(self) -> dict[str, str]:
        out = asdict(self)
        out["first"] = self.first.isoformat()
        out["last"] = self.last.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Gap:
        return cls(
            area=data["area"],
            region=data["region"],
            first=date.fromisoformat(data["first"]),
            last=date.fromisoformat(data["last"]),
            reason=data["reason"],
        )


def gaps_to_json(gaps: list[Gap]) -> str:
    """Serialise gaps (e.g. into the ingestor's state file)."""
    return json.dumps([g.to_dict() for g in gaps])


def gaps_from_json(text: str) -> list[Gap]:
    return [Gap.from_dict(item) for item in json.loads(text)]
