"""Alert lifecycle with a controllable clock: pending/firing/resolved, grouping, inhibition,
silences, acknowledgement, repeat, restart without duplicate notifications."""

from __future__ import annotations

import pytest

from gridstream.core.alerts.engine import RESOLVE_GRACE_MS, AlertEngine
from gridstream.core.alerts.model import AlertState
from gridstream.core.alerts.rules import parse_rules_yaml
from gridstream.core.anomaly.model import AnomalyResult, Label, Severity
from gridstream.errors import ConfigError

MIN = 60_000
RULES = """
route: {group_by: [alertname], group_wait: 30s, group_interval: 5m, repeat_interval: 1h,
        resolve_after: 15m}
rules:
  - {name: AnomalyCritical, kind: anomaly, min_severity: critical, for: 10m, severity: critical}
  - {name: DemandHigh, kind: threshold, series: ALL/SYSTEM_DEMAND, above: 7000, for: 0s}
  - {name: FeedStale, kind: staleness, series: "ALL/*", stale_for: 45m}
  - {name: FeedStuck, kind: system_event, event_kind: feed_stuck, severity: critical}
inhibit_rules:
  - {source: {alertname: FeedStuck}, target: {alertname: AnomalyCritical}, equal: [series]}
"""


def _anomaly(ts: int, series: str = "ALL/SYSTEM_DEMAND") -> AnomalyResult:
    return AnomalyResult(series, ts, 100.0, 0.95, True, Label.SPIKE, Severity.CRITICAL, "x")


def test_pending_then_firing_after_for_then_resolved_after_quiet() -> None:
    eng = AlertEngine(parse_rules_yaml(RULES))
    out = eng.on_anomaly(_anomaly(0))
    assert [a.state for a in out.changes] == [AlertState.PENDING]
    assert not eng.on_anomaly(_anomaly(5 * MIN)).notifications
    out = eng.on_anomaly(_anomaly(10 * MIN))
    assert [a.state for a in out.changes] == [AlertState.FIRING]
    sent = eng.tick(10 * MIN + 30_000).notifications
    assert len(sent) == 1 and sent[0].reason == "new"
    # the engine's clock alone does not resolve it: its series may just be late
    assert not eng.tick(26 * MIN).changes
    normal = AnomalyResult(
        "ALL/SYSTEM_DEMAND", 26 * MIN, 100.0, 0.1, False, Label.NORMAL, Severity.INFO, ""
    )
    out = eng.on_anomaly(normal)  # a newer record of the series shows the evidence ended
    assert [a.state for a in out.changes] == [AlertState.RESOLVED]
    assert [n.alerts[0].state for n in out.notifications] == [AlertState.RESOLVED]


def test_a_silent_series_resolves_after_the_grace_and_says_so() -> None:
    eng = AlertEngine(parse_rules_yaml(RULES))
    for t in (0, 10 * MIN):
        eng.on_anomaly(_anomaly(t))
    other = "NI/SYSTEM_DEMAND"
    late = 10 * MIN + 15 * MIN + RESOLVE_GRACE_MS
    assert not eng.on_reading(other, late - 1, 100.0).changes
    out = eng.on_reading(other, late, 100.0)
    resolved = [a for a in out.changes if a.name == "AnomalyCritical"]
    assert [a.state for a in resolved] == [AlertState.RESOLVED]
    assert "grace" in resolved[0].annotations["resolved"]


def test_for_runs_on_the_series_own_time_not_on_another_series_clock() -> None:
    eng = AlertEngine(parse_rules_yaml(RULES))
    eng.on_anomaly(_anomaly(0))
    eng.on_anomaly(_anomaly(5 * MIN))
    # another series moves the partition's clock past `for`: the pending alert waits for its
    # own series, whose next record may show the evidence ended
    assert not [a for a in eng.on_reading("NI/SYSTEM_DEMAND", 12 * MIN, 1.0).changes]
    assert eng.alerts and all(a.state is AlertState.PENDING for a in eng.alerts.values())
    out = eng.on_anomaly(_anomaly(10 * MIN))  # its own evidence at 10 min: `for` has elapsed
    assert [a.state for a in out.changes] == [AlertState.FIRING]


def test_dedup_grouping_and_repeat_interval() -> None:
    eng = AlertEngine(parse_rules_yaml(RULES))
    first = eng.on_reading("ALL/SYSTEM_DEMAND", 0, 7500).notifications
    assert not first  # group_wait not over yet
    first = eng.on_reading("ALL/SYSTEM_DEMAND", MIN, 7600).notifications  # same labels
    assert len(eng.list_alerts(AlertState.FIRING)) == 1
    assert len(first) == 1 and len(first[0].alerts) == 1
    assert not eng.tick(30 * MIN).notifications
    assert [n.reason for n in eng.tick(61 * MIN).notifications] == ["repeat"]
    fp = eng.list_alerts()[0].fingerprint
    eng.acknowledge(fp, "oncall", 62 * MIN)
    later = eng.tick(3 * 60 * MIN).notifications  # the series went stale meanwhile
    assert all(n.group_labels["alertname"] != "DemandHigh" for n in later)
    out = eng.on_reading("ALL/SYSTEM_DEMAND", 181 * MIN, 5000)
    assert [a.state for a in out.changes] == [AlertState.RESOLVED]


def test_inhibition_and_silence() -> None:
    eng = AlertEngine(parse_rules_yaml(RULES))
    eng.on_system_event("feed_stuck", "preprocessor", 0, labels={"series": "ALL/SYSTEM_DEMAND"})
    sent = []
    for t in range(0, 12 * MIN, MIN):
        sent += eng.on_anomaly(_anomaly(t)).notifications
    sent += eng.tick(12 * MIN).notifications
    names = {n.group_labels["alertname"] for n in sent}
    assert names == {"FeedStuck"}
    assert any(a.inhibited for a in eng.list_alerts(AlertState.FIRING))
    eng2 = AlertEngine(parse_rules_yaml(RULES))
    silence = eng2.silence({"alertname": "DemandHigh"}, 0, 60 * MIN, "me", "maintenance")
    eng2.on_reading("ALL/SYSTEM_DEMAND", 0, 8000)
    assert not eng2.tick(MIN).notifications
    eng2.expire_silence(silence.id, 2 * MIN)
    after = eng2.tick(3 * MIN).notifications + eng2.tick(4 * MIN).notifications
    assert [n.group_labels["alertname"] for n in after] == ["DemandHigh"]


def test_staleness_fires_after_no_readings() -> None:
    eng = AlertEngine(parse_rules_yaml(RULES))
    eng.on_reading("ALL/WIND_ACTUAL", 0, 100)
    assert not eng.list_alerts()
    eng.tick(46 * MIN)
    assert [a.name for a in eng.list_alerts(AlertState.FIRING)] == ["FeedStale"]


def test_restart_does_not_repeat_notifications() -> None:
    rules = parse_rules_yaml(RULES)
    eng = AlertEngine(rules)
    eng.on_reading("ALL/SYSTEM_DEMAND", 0, 7500)
    assert len(eng.tick(MIN).notifications) == 1
    restored = AlertEngine.from_bytes(rules, eng.to_bytes())
    assert not restored.tick(2 * MIN).notifications
    assert (
        restored.list_alerts(AlertState.FIRING)[0].fingerprint == eng.list_alerts()[0].fingerprint
    )


def test_invalid_rules_are_rejected_with_a_clear_message() -> None:
    with pytest.raises(ConfigError, match="invalid alert rules"):
        parse_rules_yaml("rules: [{name: x, kind: nonsense}]")
    with pytest.raises(ConfigError, match="unique"):
        parse_rules_yaml("rules: [{name: x, kind: anomaly}, {name: x, kind: anomaly}]")


@pytest.mark.parametrize("text", ["", "  \n", "# nothing but a comment\n"])
def test_an_empty_rules_file_is_refused_but_an_empty_rule_list_is_fine(text: str) -> None:
    # a file caught half-written by a hot reload reads as empty: it must not replace the rules
    with pytest.raises(ConfigError, match="rules: \\[\\]"):
        parse_rules_yaml(text)
    assert parse_rules_yaml("rules: []\n").rules == ()


def test_exclude_series_leaves_a_glob_out_of_a_rule() -> None:
    rules = parse_rules_yaml(
        """
rules:
  - {name: AnomalyCritical, kind: anomaly, exclude_series: "*/INTER_*", min_severity: critical}
"""
    )
    eng = AlertEngine(rules)
    eng.on_anomaly(_anomaly(0, "ROI/INTER_EWIC"))
    eng.on_anomaly(_anomaly(0, "ALL/SYSTEM_DEMAND"))
    eng.tick(MIN)
    assert {a.labels["series"] for a in eng.list_alerts()} == {"ALL/SYSTEM_DEMAND"}
    (rule,) = rules.rules
    assert rule.matches_series("NI/SYSTEM_DEMAND") and not rule.matches_series("NI/INTER_MOYLE")


def test_exclude_labels_leaves_gap_readings_to_the_staleness_rule() -> None:
    rules = parse_rules_yaml(
        """
rules:
  - {name: AnomalyCritical, kind: anomaly, exclude_labels: [gap], min_severity: critical}
"""
    )
    eng = AlertEngine(rules)
    gap = AnomalyResult(
        "ALL/SYSTEM_DEMAND", 0, 100.0, 1.0, True, Label.GAP, Severity.CRITICAL, "2 h missing"
    )
    eng.on_anomaly(gap)
    assert eng.list_alerts() == []
    eng.on_anomaly(_anomaly(MIN))
    assert [a.name for a in eng.list_alerts()] == ["AnomalyCritical"]
    with pytest.raises(ConfigError):
        parse_rules_yaml("rules: [{name: A, kind: anomaly, exclude_labels: [bogus]}]")
