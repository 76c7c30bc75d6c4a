"""The incident catalogue's judging, and the replay of real incidents through detector and rules."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gridstream.cli import build_app
from gridstream.commands._incidents import run_incident
from gridstream.core.anomaly.incidents import (
    DAY_MS,
    HOUR_MS,
    INCIDENTS,
    Firing,
    Incident,
    false_alarm_rate,
    incident_start,
    judge,
)
from tests.conftest import shared_data

STEP = 900_000


def _incident(rule: str, expect_alarm: bool = True) -> Incident:
    return Incident("test", ("A/X",), 0, 100 * STEP, rule, fixed_start_ms=10 * STEP,  # type: ignore[arg-type]
                    expect_alarm=expect_alarm)  # fmt: skip


def test_start_of_the_longest_flat_run_and_of_the_longest_gap() -> None:
    ts = [i * STEP for i in range(40)]
    values = [float(i) for i in range(40)]
    values[12:20] = [7.0] * 8  # flat from index 12 to 19
    values[30:33] = [1.0] * 3  # a shorter flat run
    assert incident_start(_incident("flat"), ts, values, STEP) == (12 * STEP, 19 * STEP)
    gappy = [t for t in ts if not 20 * STEP <= t < 26 * STEP]
    start, end = incident_start(_incident("gap"), gappy, [1.0] * len(gappy), STEP)
    assert (start, end) == (20 * STEP, 26 * STEP)
    assert incident_start(_incident("fixed"), ts, values, STEP) == (10 * STEP, 11 * STEP)


def test_judge_reports_delay_evidence_and_the_one_hour_target() -> None:
    inc = _incident("fixed")
    start = 10 * STEP
    early = [Firing("FeedStuck", "A/X", start + 30 * 60_000, "stuck"),
             Firing("Other", "B/Y", start, "not this series")]  # fmt: skip
    verdict = judge(inc, start, start + STEP, early)
    assert verdict.flagged and verdict.passed and verdict.delay_minutes == 30
    assert verdict.evidence.startswith("FeedStuck on A/X")
    late = judge(inc, start, start + 8 * HOUR_MS, [Firing("R", "A/X", start + 2 * HOUR_MS, "")])
    assert late.flagged and not late.passed and late.delay_minutes == 120
    before = judge(inc, start, start + STEP, [Firing("R", "A/X", start - STEP, "")])
    assert not before.flagged and not before.passed


def test_a_regime_change_passes_only_when_quiet_for_weeks() -> None:
    inc = _incident("fixed", expect_alarm=False)
    start = 10 * STEP
    assert judge(inc, start, start, []).passed
    assert judge(inc, start, start, [Firing("R", "A/X", start + 22 * DAY_MS, "")]).passed
    noisy = judge(inc, start, start, [Firing("R", "A/X", start + 3 * DAY_MS, "")])
    assert noisy.flagged and not noisy.passed


def test_false_alarm_rate_leaves_out_incidents_and_other_series() -> None:
    month = int(30.44 * DAY_MS)
    firings = [Firing("R", "A/X", d * DAY_MS, "") for d in range(10)]
    firings.append(Firing("R", "B/Y", DAY_MS, ""))
    excluded = [(0, 5 * DAY_MS)]  # days 0-4 are an incident
    rate = false_alarm_rate(firings, excluded, ["A/X"], 0, month)
    assert rate == 5.0
    assert false_alarm_rate(firings, excluded, ["A/X", "C/Z"], 0, month) == 2.5


def test_missing_co2_of_2018_is_flagged_by_the_staleness_rule_within_an_hour() -> None:
    data = shared_data("eirgrid", "smartgriddashboard")
    incident = next(i for i in INCIDENTS if i.name.startswith("missing CO2"))
    verdict = run_incident(data, incident, None)
    assert verdict.flagged and verdict.passed
    assert verdict.evidence.startswith("FeedStale on ALL/CO2_INTENSITY")
    assert verdict.end_ms - verdict.start_ms > 20 * DAY_MS  # the gap found in the data is long


def test_cli_json_and_plots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = shared_data("eirgrid", "smartgriddashboard")
    fa_range = ["--false-alarms-from", "2019-03-01", "--false-alarms-to", "2019-04-01"]
    args = [
        "anomaly",
        "incidents",
        "--data",
        str(data),
        "--plot",
        str(tmp_path),
        *fa_range,
        "--json",
    ]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert summary["total"] == len(INCIDENTS) == len(summary["incidents"])
    assert summary["passed"] == sum(v["passed"] for v in summary["incidents"])
    alarms = summary["false_alarms"]
    counted = alarms["firings_outside_incidents"]
    assert sum(alarms["by_rule"].values()) == sum(alarms["by_series"].values()) == counted
    assert list(alarms["per_year"]) == ["2019"]
    months = 31 / 30.44
    expected = counted / (len(alarms["series"]) * months)
    assert alarms["per_series_per_month"] == pytest.approx(expected, abs=1e-3)
    spike = next(v for v in summary["incidents"] if v["incident"].startswith("demand spike"))
    assert spike["passed"] and "fell back" in spike["evidence"]
    assert len(list(tmp_path.glob("*.png"))) == len(INCIDENTS)
    covid = next(v for v in summary["incidents"] if v["incident"].startswith("COVID"))
    assert covid["expect_alarm"] is False


def test_cli_says_what_to_do_when_the_data_is_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = ["anomaly", "incidents", "--data", str(tmp_path / "nowhere"), "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code != 0
    assert "--data" in result.output
