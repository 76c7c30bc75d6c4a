"""NAB benchmark: run the default detector over NAB's data and print the three profile scores.

Usage: .venv/bin/python benchmarks/nab_benchmark.py [NAB_DIR] [OUT_DIR]
(NAB_DIR defaults to ../shared/data/nab beside the repository.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gridstream.commands._nab_corpus import run_corpus

HTM = {"standard": 86.28, "reward_low_FP_rate": 83.80, "reward_low_FN_rate": 90.14}


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    nab = Path(sys.argv[1]) if len(sys.argv) > 1 else root / ".." / "shared" / "data" / "nab"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "build" / "nab"
    result = run_corpus(nab / "data", out, nab / "labels" / "combined_windows.json", None)
    print(f"detector time: {result['detect_seconds']} s over {result['files']} files")
    for profile, entry in result["scores"].items():
        ours = entry.get("normalized_nab_baseline", entry["normalized"])
        print(
            f"{profile:20s} gridstream {ours:6.2f} (18-file null baseline "
            f"{entry['normalized']:6.2f})   numenta HTM {HTM[profile]:6.2f}"
        )
    print(json.dumps(result["scores"]))


if __name__ == "__main__":
    main()
