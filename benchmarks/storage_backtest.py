"""Storage benchmark: the 2022 all-island backtest for each objective, as the issue asks.

Run: .venv/bin/python benchmarks/storage_backtest.py [--from 2022-01-01 --to 2022-12-31]
     [--objectives co2] [--forecast-cache /tmp/storage_fc_2022.npz]
     [--error-scales 0.75,0.5,0.35,0.25]
Prints one JSON document per objective (co2, peak, mixed) with the headline figures. The
forecast MPC (with its uncertainty handling) is reported next to the same MPC on P50 alone
(``forecast_mpc_nominal``); ``robustness_gain`` is the difference. ``forecast_skill`` replays
the same MPC on the forecasts with their errors scaled (what better forecasts would be worth).
Training the project's forecast models takes minutes: pass --forecast-cache to train once and
reuse the forecasts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eirgrid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2022-01-01")
    parser.add_argument("--to", dest="end", default="2022-12-31")
    parser.add_argument("--region", default="ALL")
    parser.add_argument("--objectives", default="co2,peak,mixed")
    parser.add_argument("--forecast", default="auto", help="auto, project or naive")
    parser.add_argument("--forecast-cache", default=None, help=".npz file for the forecasts")
    parser.add_argument("--replan-minutes", default="60")
    parser.add_argument("--error-scales", default="0.75,0.5,0.35,0.25")
    args = parser.parse_args()
    extra = ["--forecast", args.forecast, "--replan-minutes", args.replan_minutes]
    if args.error_scales:
        extra += ["--error-scales", args.error_scales]
    if args.forecast_cache:
        extra += ["--forecast-cache", args.forecast_cache]
    if not DATA.exists():
        sys.exit(f"recorded data not found at {DATA}; see COMMON rules for the shared data folder")
    for objective in args.objectives.split(","):
        out = subprocess.run(
            [
                str(Path(sys.executable).parent / "gridstream"),
                "storage",
                "backtest",
                "--data",
                str(DATA),
                "--from",
                args.start,
                "--to",
                args.end,
                "--region",
                args.region,
                "--objective",
                objective,
                *extra,
                "--json",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        report = json.loads(out)
        headline = {
            k: report[k]
            for k in (
                "objective",
                "forecast_source",
                "benefit",
                "ratio_to_perfect_foresight",
                "violations",
                "solve_ms_p50",
                "solve_ms_p99",
                "robustness_gain",
                "forecast_skill",
                "planning",
                "targets",
            )
        }
        primary = report["primary_metric"]
        headline["monthly_benefit"] = {
            name: {month: v[primary] for month, v in months.items()}
            for name, months in report["monthly_benefit"].items()
        }
        sys.stdout.write(json.dumps(headline, indent=1) + "\n")


if __name__ == "__main__":
    main()
