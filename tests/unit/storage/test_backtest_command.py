"""`gridstream storage backtest --json` on two real January days: one JSON document, the
tuned planning settings by default, overridable from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridstream.core.storage import backtest

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not (DATA / "eirgrid").exists(), reason=f"recorded EirGrid data not found at {DATA}"
)


def run(*extra: str) -> dict[str, object]:
    from gridstream.cli import build_app

    args = ["storage", "backtest", "--data", str(DATA), "--from", "2022-01-10"]
    args += ["--to", "2022-01-11", "--forecast", "naive", "--json", *extra]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)  # nothing but the JSON on stdout
    return report


def planning(settings: dict[str, object]) -> dict[str, object]:
    """tuned_planning() keys as the report names them."""
    return {
        "robustness": settings["robustness"],
        "throughput_penalty_eur_per_mwh": settings["throughput_penalty"],
        "terminal_value_quantile": settings["terminal_quantile"],
        "spread_widening": settings["spread_widening"],
        "feedback_tau_steps": settings["feedback_tau_steps"],
    }


def test_defaults_are_the_tuned_settings_and_options_override_them() -> None:
    report = run()
    assert report["forecast_source"] == "seasonal_naive"
    assert report["planning"] == planning(backtest.tuned_planning("seasonal_naive"))
    assert report["steps"] == 2 * 96
    assert report["violations"] == dict.fromkeys(
        ("perfect_foresight", "forecast_mpc", "forecast_mpc_nominal", "rule_baseline"), 0
    )
    custom = run(
        "--robustness",
        "0",
        "--spread-widening",
        "0.3",
        "--throughput-penalty",
        "3",
        "--feedback-tau",
        "0",
    )
    assert custom["planning"] == {
        "robustness": 0.0,
        "throughput_penalty_eur_per_mwh": 3.0,
        "terminal_value_quantile": None,
        "spread_widening": 0.3,
        "feedback_tau_steps": 0.0,
    }


def test_each_forecast_source_has_its_own_tuning() -> None:
    project = backtest.tuned_planning("project_forecast")
    assert project["spread_widening"] == backtest.SPREAD_WIDENING
    # the project's forecasts are planned on as issued (as the service does); same time
    # yesterday never sees the latest reading and gets measurement feedback
    assert project["feedback_tau_steps"] == 0
    assert backtest.tuned_planning("seasonal_naive")["feedback_tau_steps"] > 0
    assert backtest.tuned_planning("seasonal_naive") != project
    assert backtest.tuned_planning("some_new_source") == project


def test_the_forecast_skill_sweep_is_reported_and_bad_scales_are_refused(tmp_path: Path) -> None:
    plot = tmp_path / "plots" / "storage.png"
    report = run("--error-scales", "1,0", "--plot", str(plot))
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    skill = report["forecast_skill"]
    assert isinstance(skill, list) and [p["error_scale"] for p in skill] == [1.0, 0.0]
    benefit = report["benefit"]
    assert isinstance(benefit, dict)
    assert skill[0]["benefit"]["co2_avoided_t"] == pytest.approx(
        benefit["forecast_mpc"]["co2_avoided_t"], abs=0.1
    )
    assert skill[1]["benefit"]["co2_avoided_t"] == pytest.approx(
        benefit["perfect_foresight"]["co2_avoided_t"], rel=1e-3
    )
    from gridstream.cli import build_app

    for bad, why in (("0.5,x", "not a number"), ("3", "outside")):
        args = ["storage", "backtest", "--data", str(DATA), "--from", "2022-01-10"]
        args += ["--to", "2022-01-11", "--error-scales", bad, "--json"]
        result = CliRunner().invoke(build_app(), args)
        assert result.exit_code != 0
        assert why in result.output
        assert result.stdout.strip() == "" or not result.stdout.lstrip().startswith("{")
