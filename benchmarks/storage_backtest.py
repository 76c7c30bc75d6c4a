"""Storage benchmark: the 2022 all-island backtest for each objective, as the issue asks.

Run: .venv/bin/python benchmarks/storage_backtest.py [--from 2022-01-01 --to 2022-12-31]
Prints one JSON document per objective (co2, peak, mixed) with the headline figures.
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
    args = parser.parse_args()
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
                "targets",
            )
        }
        sys.stdout.write(json.dumps(headline, indent=1) + "\n")


if __name__ == "__main__":
    main()
