"""Alert rules, routing, inhibition: validated from a YAML document.

Example::

    route: {group_by: [alertname, region], group_wait: 30s, group_interval: 5m,
            repeat_interval: 4h, resolve_after: 15m}
    rules:
      - {name: AnomalyCritical, kind: anomaly, min_severity: critical, for: 0s}
      - {name: DemandHigh, kind: threshold, series: ALL/SYSTEM_DEMAND, above: 7000, for: 30m}
      - {name: FeedStale, kind: staleness, series: "*", stale_for: 45m, severity: critical}
      - {name: ForecastMiss, kind: forecast_error, min_score: 0.8, for: 30m}
      - {name: ServiceDown, kind: service_health, for: 2m, severity: critical}
      - {name: SnspNearLimit, kind: snsp_limit, series: ALL/SNSP_ALL, limit: 75, margin: 3}
      - {name: FeedStuck, kind: system_event, event_kind: feed_stuck, severity: critical}
    inhibit_rules:
      - {source: {alertname: FeedStuck}, target: {kind: anomaly}, equal: [series]}
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from gridstream.core.anomaly.model import Label
from gridstream.errors import ConfigError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
SEVERITIES = ("info", "warning", "critical")

RuleKind = Literal[
    "anomaly",
    "threshold",
    "staleness",
    "forecast_error",
    "service_health",
    "snsp_limit",
    "system_event",
]


def parse_duration(text: str | int | float) -> int:
    """``30s``, ``5m``, ``4h``, ``1d`` or a number of seconds -> milliseconds."""
    if isinstance(text, int | float):
        return int(text * 1000)
    m = _DURATION.match(text.strip())
    if m is None:
        raise ValueError(f"bad duration {text!r}: use e.g. 30s, 5m, 4h")
    return int(float(m.group(1)) * _UNIT_MS[m.group(2)])


def _glob(pattern: str, series_id: str) -> bool:
    return _glob_re(pattern).fullmatch(series_id) is not None


@functools.lru_cache(maxsize=1024)
def _glob_re(pattern: str) -> re.Pattern[str]:
    """The regex of a series glob, built once (rules are matched against every record)."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*"))


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, validate_by_name=True
    )


class Rule(_Model):
    name: str
    kind: RuleKind
    severity: Literal["info", "warning", "critical"] = "warning"
    for_ms: int = Field(0, alias="for")
    series: str = "*"
    #: a glob of series the rule leaves out even when ``series`` matches them
    exclude_series: str = ""
    #: anomaly labels (``gap``, ``stuck``, ``spike``, ...) an ``anomaly`` rule leaves out
    exclude_labels: tuple[Label, ...] = ()
    min_severity: Literal["info", "warning", "critical"] = "warning"
    min_score: float = 0.0
    above: float | None = None
    below: float | None = None
    stale_for_ms: int = Field(0, alias="stale_for")
    limit: float | None = None
    margin: float = 0.0
    event_kind: str | None = None
    labels: dict[str, str] = {}
    summary: str = ""

    @field_validator("for_ms", "stale_for_ms", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> int:
        return parse_duration(v)

    def matches_series(self, series_id: str) -> bool:
        if self.exclude_series and _glob(self.exclude_series, series_id):
            return False
        return _glob(self.series, series_id)


class Route(_Model):
    group_by: tuple[str, ...] = ("alertname",)
    group_wait_ms: int = Field(30_000, alias="group_wait")
    group_interval_ms: int = Field(300_000, alias="group_interval")
    repeat_interval_ms: int = Field(4 * 3_600_000, alias="repeat_interval")
    resolve_after_ms: int = Field(15 * 60_000, alias="resolve_after")

    @field_validator(
        "group_wait_ms",
        "group_interval_ms",
        "repeat_interval_ms",
        "resolve_after_ms",
        mode="before",
    )
    @classmethod
    def _duration(cls, v: Any) -> int:
        return parse_duration(v)


class InhibitRule(_Model):
    source: dict[str, str]
    target: dict[str, str]
    equal: tuple[str, ...] = ()


class RuleSet(_Model):
    route: Route = Field(default_factory=lambda: Route.model_validate({}))
    rules: tuple[Rule, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [r.name for r in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique, repeated: {dupes}")
        return rules


def parse_rules(doc: Mapping[str, Any]) -> RuleSet:
    """Validate a parsed rules document; errors say which field is wrong."""
    try:
        return RuleSet.model_validate(dict(doc))
    except PydanticError as exc:
        raise ConfigError(f"invalid alert rules: {exc}; fix the rules file and reload") from exc


def parse_rules_yaml(text: str) -> RuleSet:
    """Validate the text of a YAML rules file."""
    if not text.strip():
        # an empty file is far more often a write caught half-way (or a mistake) than a wish
        # for no alerts at all: refusing it keeps the rules in force
        raise ConfigError("alert rules file is empty; write 'rules: []' to run without rules")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"alert rules are not valid YAML: {exc}") from exc
    if doc is None:
        raise ConfigError("alert rules hold no YAML document; write 'rules: []' for no rules")
    if not isinstance(doc, dict):
        raise ConfigError("alert rules must be a YAML mapping with 'rules', 'route', ...")
    return parse_rules(doc)
