"""The whole-pipeline benchmark from a script: ``python benchmarks/pipeline_bench.py [DAYS]``.

The same run as ``gridstream bench --json`` (temporary broker, ceiling, exactly-once replay
through every stage, latency at 100 readings/s, peak RSS): prints the tables on stderr and
the result as one JSON line on stdout.
"""

from __future__ import annotations

import json
import logging
import sys


def main(argv: list[str]) -> int:
    from gridstream.bench.report import render
    from gridstream.bench.run import BenchOptions, run_bench

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    days = float(argv[0]) if argv else 365.0
    result = run_bench(BenchOptions(days=days), progress=lambda text: print(text, file=sys.stderr))
    render(result)
    print(json.dumps(result))
    return 0 if result["counts_reconcile"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
