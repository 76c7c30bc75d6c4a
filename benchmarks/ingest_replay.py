"""Replay throughput through ingest + clean: ``python benchmarks/ingest_replay.py [YEAR] [REGION]``.

Links the recorded files of one year and region (default 2022, ALL) into a temporary folder,
runs ``gridstream ingest replay DIR --max --count-clean --json`` (the configured broker, or a
temporary one) and prints its figures plus the expected unique non-null row count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "eirgrid"
    / "smartgriddashboard"
)


def main(argv: list[str]) -> int:
    from gridstream.sources.recorded import list_files, read_frame

    year = int(argv[0]) if argv else 2022
    region = argv[1] if len(argv) > 1 else "ALL"
    files = list_files(DATA, regions=[region], years=[year])
    if not files:
        print(f"no recorded files for {region} {year} under {DATA}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            (Path(tmp) / path.name).symlink_to(path.resolve())
        cmd = [sys.executable, "-c", "from gridstream.cli import main; main()"]
        done = subprocess.run(
            [*cmd, "ingest", "replay", tmp, "--max", "--count-clean", "--json"],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
    result = json.loads(done.stdout)
    result["expected_unique_non_null"] = len(read_frame(files))
    result["files"] = len(files)
    print(json.dumps(result))
    return 0 if result["clean_readings"] == result["expected_unique_non_null"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
