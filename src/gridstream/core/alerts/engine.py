"""The alert engine: rules -> pending -> firing -> resolved, grouped notifications.

Time is whatever the caller says (event time of records, or ``tick(now_ms)`` from a clock),
so the whole lifecycle is testable with a controllable clock. Every call returns an
``EngineOutput``: the alerts whose state changed and the notifications due. The complete
state (alerts, groups and what they last sent, silences, last readings) is bytes, so a
restarted engine neither forgets alerts nor repeats notifications already sent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from gridstream.core.alerts.merge import EventMerge
from gridstream.core.alerts.model import (
    Alert,
    AlertState,
    EngineOutput,
    Group,
    Silence,
    fingerprint,
    matches,
)
from gridstream.core.alerts.notify import due_notifications
from gridstream.core.alerts.rules import SEVERITIES, Rule, RuleSet
from gridstream.core.anomaly.model import AnomalyResult
from gridstream.errors import GridstreamError, SerdeError

RESOLVED_RETENTION_MS = 24 * 3_600_000
#: An alert that resolves "after ``resolve_after`` without evidence" waits for a newer record
#: of its own key (series, or service) to show the evidence ended; if its key sends nothing
#: more, the engine's clock (other keys of the partition) decides after this grace.
RESOLVE_GRACE_MS = 3_600_000


class UnknownAlert(GridstreamError):
    """No alert or silence has that id; list them with GET /alerts or GET /silences."""


class AlertEngine:
    """Evaluates rules against anomalies, readings and system events."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.alerts: dict[str, Alert] = {}
        self.groups: dict[str, Group] = {}
        self.silences: dict[str, Silence] = {}
        self.last_reading_ms: dict[str, int] = {}
        #: per key (series, or service): the newest event time of any record about it
        self.key_seen_ms: dict[str, int] = {}
        #: per series: how far its readings are known (its newest record seen, applied or
        #: still held by the merge); staleness is judged on this clock, see :meth:`heard`
        self.heard_ms: dict[str, int] = {}
        self.now_ms = 0
        self._next_silence = 1
        #: the clocks of the input merge (its held records are kept apart, see merge)
        self.merge = EventMerge()
        #: ids of the operator commands applied (a command is applied once per engine)
        self.commands: dict[str, int] = {}

    def reload(self, rules: RuleSet) -> None:
        """Swap the rule set; alerts of rules that no longer exist resolve at the next tick."""
        self.rules = rules

    # ----- inputs -------------------------------------------------------------------------
    def on_anomaly(self, result: AnomalyResult) -> EngineOutput:
        out = EngineOutput()
        self._seen(result.series_id, result.ts_ms)
        region, _, field = result.series_id.partition("/")
        rank = SEVERITIES.index(result.severity.value)
        forecast = max(
            (e.score for e in result.evidence if e.kind == "forecast_residual"), default=0.0
        )
        for rule in self._rules_for(result.series_id, "anomaly", "forecast_error"):
            if rule.kind == "anomaly":
                active = (
                    result.is_anomaly
                    and rank >= SEVERITIES.index(rule.min_severity)
                    and result.score >= rule.min_score
                    and result.label not in rule.exclude_labels
                )
            else:
                active = forecast >= max(rule.min_score, 1e-9)
            labels = {"series": result.series_id, "region": region, "field": field}
            notes = {"summary": result.explanation, "score": f"{result.score:.2f}"}
            if active:
                self._observe(rule, labels, notes, result.ts_ms, out)
        return self._finish(result.ts_ms, out)

    def on_reading(self, series_id: str, ts_ms: int, value: float) -> EngineOutput:
        out = EngineOutput()
        self.last_reading_ms[series_id] = max(ts_ms, self.last_reading_ms.get(series_id, 0))
        self._seen(series_id, ts_ms)
        region, _, field = series_id.partition("/")
        for rule in self._rules_for(series_id, "threshold", "snsp_limit"):
            if rule.kind == "threshold":
                active = (rule.above is not None and value > rule.above) or (
                    rule.below is not None and value < rule.below
                )
                notes = {"summary": f"{series_id} at {value:,.0f}"}
            else:
                limit = rule.limit if rule.limit is not None else 75.0
                active = value >= limit - rule.margin
                notes = {"summary": f"SNSP {value:.1f}% within {rule.margin:g} of limit {limit:g}%"}
            labels = {"series": series_id, "region": region, "field": field}
            if active:
                self._observe(rule, labels, notes, ts_ms, out)
            else:
                self._clear(rule, labels, ts_ms, out)
        return self._finish(ts_ms, out)

    def on_system_event(
        self,
        kind: str,
        service: str,
        ts_ms: int,
        message: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> EngineOutput:
        """A data-quality or health event (``service_not_ready`` / ``service_ready`` ...)."""
        out = EngineOutput()
        extra = dict(labels or {})
        self._seen(extra.get("series") or service, ts_ms)
        for rule in self.rules.rules:
            if rule.kind == "service_health" and kind in ("service_not_ready", "service_ready"):
                base = {"service": service}
                if kind == "service_not_ready":
                    self._observe(
                        rule, base, {"summary": message or f"{service} not ready"}, ts_ms, out
                    )
                else:
                    self._clear(rule, base, ts_ms, out)
            elif rule.kind == "system_event" and rule.event_kind == kind:
                if not rule.matches_series(extra.get("series", "*") if rule.series != "*" else "*"):
                    continue
                self._observe(rule, {"service": service, **extra}, {"summary": message}, ts_ms, out)
        return self._finish(ts_ms, out)

    def heard(self, series_id: str, ts_ms: int) -> None:
        """A record of the series (its readings' source) arrived, perhaps held for now."""
        self.heard_ms[series_id] = max(ts_ms, self.heard_ms.get(series_id, ts_ms))

    def tick(self, now_ms: int) -> EngineOutput:
        """Advance time: staleness, pending -> firing, quiet -> resolved, notifications.

        A series is stale on its own clock: only as far as its readings are known
        (:attr:`heard_ms`), so a series merely behind the others of the partition is not."""
        out = EngineOutput()
        for rule in self.rules.rules:
            if rule.kind != "staleness":
                continue
            for series_id, last in self.last_reading_ms.items():
                if not rule.matches_series(series_id):
                    continue
                region, _, field = series_id.partition("/")
                labels = {"series": series_id, "region": region, "field": field}
                known = min(now_ms, self.heard_ms.get(series_id, now_ms))
                if known - last >= rule.stale_for_ms:
                    minutes = (known - last) // 60_000
                    notes = {"summary": f"no reading of {series_id} for {minutes} min"}
                    self._observe(rule, labels, notes, now_ms, out)
                else:
                    self._clear(rule, labels, now_ms, out)
        return self._finish(now_ms, out)

    # ----- operator actions -------------------------------------------------------------------
    def silence(
        self,
        matchers: Mapping[str, str],
        starts_at_ms: int,
        ends_at_ms: int,
        created_by: str = "",
        comment: str = "",
    ) -> Silence:
        sid = f"s{self._next_silence}"
        self._next_silence += 1
        silence = Silence(sid, dict(matchers), starts_at_ms, ends_at_ms, created_by, comment)
        self.silences[sid] = silence
        return silence

    def refresh_suppression(self) -> None:
        """Recompute silenced/inhibited at the engine's own (event) time, e.g. after a silence
        was added or expired: no clock moves, no notification is decided."""
        self._apply_suppression(self.now_ms)

    def expire_silence(self, silence_id: str, now_ms: int) -> Silence:
        silence = self.silences.get(silence_id)
        if silence is None:
            raise UnknownAlert(f"no silence {silence_id!r}")
        silence.ends_at_ms = min(silence.ends_at_ms, now_ms)
        return silence

    def acknowledge(self, fp: str, by: str, now_ms: int) -> Alert:
        alert = self.alerts.get(fp)
        if alert is None:
            raise UnknownAlert(f"no alert with fingerprint {fp!r}")
        alert.acknowledged, alert.acknowledged_by, alert.updated_at_ms = True, by, now_ms
        return alert

    def list_alerts(
        self, state: AlertState | None = None, labels: Mapping[str, str] | None = None
    ) -> list[Alert]:
        return sorted(
            (
                a
                for a in self.alerts.values()
                if (state is None or a.state == state) and matches(labels or {}, a.labels)
            ),
            key=lambda a: (a.starts_at_ms, a.fingerprint),
        )

    # ----- lifecycle ------------------------------------------------------------------------
    def _seen(self, key: str, ts: int) -> None:
        self.key_seen_ms[key] = max(ts, self.key_seen_ms.get(key, ts))

    def _quiet_for(self, alert: Alert, now: int) -> tuple[bool, str]:
        """Whether an evidence-based alert has been quiet for ``resolve_after``, and why.

        Decided on the alert's own key: a newer record of its series (or service) without
        the condition shows the evidence ended. A key that sends nothing more is decided
        by the engine's clock once the grace has passed too, and the record says so. (The
        engine's clock alone would resolve the alerts of a series that is merely behind the
        other series of its partition: after a restart the old alerts of a lagging feed
        were resolved, and notified, by a new feed's readings.)
        """
        quiet = self.rules.route.resolve_after_ms
        key = alert.labels.get("series") or alert.labels.get("service") or ""
        if self._key_time(alert) - alert.last_seen_ms >= quiet:
            return True, ""
        if now - alert.last_seen_ms >= quiet + RESOLVE_GRACE_MS:
            minutes = RESOLVE_GRACE_MS // 60_000
            return True, f"no newer record of {key or alert.name} within the {minutes} min grace"
        return False, ""

    def _key_time(self, alert: Alert) -> int:
        """The newest event time of the alert's own key (series, or service)."""
        key = alert.labels.get("series") or alert.labels.get("service") or ""
        return self.key_seen_ms.get(key, alert.last_seen_ms)

    def _rules_for(self, series_id: str, *kinds: str) -> list[Rule]:
        return [r for r in self.rules.rules if r.kind in kinds and r.matches_series(series_id)]

    def _observe(
        self, rule: Rule, labels: dict[str, str], notes: dict[str, str], ts: int, out: EngineOutput
    ) -> None:
        full = {
            "alertname": rule.name,
            "kind": rule.kind,
            "severity": rule.severity,
            **rule.labels,
            **labels,
        }
        fp = fingerprint(full)
        alert = self.alerts.get(fp)
        if alert is None or alert.state is AlertState.RESOLVED:
            count = alert.occurrences + 1 if alert is not None else 1
            alert = Alert(
                fp,
                rule.name,
                full,
                rule.severity,
                AlertState.PENDING,
                ts,
                ts,
                ts,
                rule.for_ms,
                annotations=notes,
                occurrences=count,
            )
            self.alerts[fp] = alert
            out.changes.append(dataclasses.replace(alert))
        alert.last_seen_ms = max(alert.last_seen_ms, ts)
        alert.annotations = notes
        self._maybe_fire(alert, ts, out)

    def _clear(self, rule: Rule, labels: dict[str, str], ts: int, out: EngineOutput) -> None:
        full = {
            "alertname": rule.name,
            "kind": rule.kind,
            "severity": rule.severity,
            **rule.labels,
            **labels,
        }
        alert = self.alerts.get(fingerprint(full))
        if alert is not None and alert.state is not AlertState.RESOLVED:
            self._resolve(alert, ts, out)

    def _maybe_fire(self, alert: Alert, now: int, out: EngineOutput) -> None:
        if alert.state is AlertState.PENDING and now - alert.starts_at_ms >= alert.for_ms:
            alert.state, alert.updated_at_ms = AlertState.FIRING, now
            out.changes.append(dataclasses.replace(alert))

    def _resolve(self, alert: Alert, now: int, out: EngineOutput) -> None:
        if alert.state is AlertState.PENDING:
            del self.alerts[alert.fingerprint]  # never fired: nothing to tell anyone
            return
        alert.state, alert.ends_at_ms, alert.updated_at_ms = AlertState.RESOLVED, now, now
        out.changes.append(dataclasses.replace(alert))

    def _finish(self, now: int, out: EngineOutput) -> EngineOutput:
        self.now_ms = max(self.now_ms, now)
        now = self.now_ms
        names = {r.name for r in self.rules.rules}
        for alert in list(self.alerts.values()):
            if alert.state is AlertState.RESOLVED:
                if now - alert.ends_at_ms > RESOLVED_RETENTION_MS:
                    del self.alerts[alert.fingerprint]
                continue
            if alert.name not in names:
                self._resolve(alert, now, out)
                continue
            evidence = alert.labels.get("kind") not in (
                "threshold",
                "snsp_limit",
                "service_health",
                "staleness",
            )
            quiet, why = self._quiet_for(alert, now) if evidence else (False, "")
            if quiet:
                if why:
                    alert.annotations = {**alert.annotations, "resolved": why}
                self._resolve(alert, now, out)
            else:
                # an evidence alert's `for` runs on its own key's time, like its quiet period:
                # the partition clock alone would fire it before its key's next record could
                # show the evidence had ended
                self._maybe_fire(alert, self._key_time(alert) if evidence else now, out)
        self._apply_suppression(now)
        out.notifications.extend(due_notifications(self.alerts, self.groups, self.rules.route, now))
        return out

    def _apply_suppression(self, now: int) -> None:
        active = [s for s in self.silences.values() if s.active(now)]
        firing = [a for a in self.alerts.values() if a.state is AlertState.FIRING]
        # each inhibit rule's sources among the firing alerts, found once per sweep rather
        # than once per alert (the same answer: every test here is free of side effects)
        by_rule = [
            (rule, [src for src in firing if matches(rule.source, src.labels)])
            for rule in self.rules.inhibit_rules
        ]
        inhibiting = [(rule, sources) for rule, sources in by_rule if sources]
        for alert in self.alerts.values():
            alert.silenced = any(matches(s.matchers, alert.labels) for s in active)
            alert.inhibited = any(
                matches(rule.target, alert.labels)
                and any(
                    src.fingerprint != alert.fingerprint
                    and all(src.labels.get(k) == alert.labels.get(k) for k in rule.equal)
                    for src in sources
                )
                for rule, sources in inhibiting
            )

    # ----- persistence ----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "alerts": [dataclasses.asdict(a) for a in self.alerts.values()],
            "groups": [dataclasses.asdict(g) for g in self.groups.values()],
            "silences": [dataclasses.asdict(s) for s in self.silences.values()],
            "last_reading_ms": self.last_reading_ms,
            "key_seen_ms": self.key_seen_ms,
            "heard_ms": self.heard_ms,
            "now_ms": self.now_ms,
            "next_silence": self._next_silence,
            "merge": self.merge.to_doc(),
            "commands": self.commands,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, rules: RuleSet, data: bytes) -> AlertEngine:
        try:
            doc = json.loads(data)
            engine = cls(rules)
            for a in doc["alerts"]:
                alert = Alert(**{**a, "state": AlertState(a["state"])})
                engine.alerts[alert.fingerprint] = alert
            engine.groups = {g["key"]: Group(**g) for g in doc["groups"]}
            engine.silences = {s["id"]: Silence(**s) for s in doc["silences"]}
            engine.last_reading_ms = {k: int(v) for k, v in doc["last_reading_ms"].items()}
            engine.key_seen_ms = {k: int(v) for k, v in doc.get("key_seen_ms", {}).items()}
            engine.heard_ms = {k: int(v) for k, v in doc.get("heard_ms", {}).items()}
            engine.now_ms = int(doc["now_ms"])
            engine._next_silence = int(doc["next_silence"])
            if "merge" in doc:
                engine.merge = EventMerge.from_doc(doc["merge"])
            engine.commands = {str(k): int(v) for k, v in doc.get("commands", {}).items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise SerdeError(
                f"alert engine state is not valid ({exc}); delete it to start over"
            ) from exc
        return engine
