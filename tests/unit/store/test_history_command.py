"""`gridstream history import` fills the store the trainer reads, unless told otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gridstream.config import Settings
from gridstream.store.history import HistoryStore

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "eirgrid"

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"recorded data not found at {DATA}")


def test_import_defaults_to_the_trainers_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridstream.cli import build_app

    monkeypatch.setenv("GRIDSTREAM_STATE_DIR", str(tmp_path / "state"))
    args = ["history", "import", str(DATA), "--regions", "NI", "--years", "2022", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the JSON on stdout
    store = Settings().history_store
    assert store == tmp_path / "state" / "history" / "history.duckdb"
    assert summary["store"] == str(store)
    assert summary["rows_written"] > 100_000  # a year of several NI series
    with HistoryStore(store) as db:
        assert db.count() == summary["rows_in_store"]
        assert "NI/SYSTEM_DEMAND" in db.series()


def test_import_writes_where_it_is_told(tmp_path: Path) -> None:
    from gridstream.cli import build_app

    target = tmp_path / "elsewhere.duckdb"
    one_file = DATA / "smartgriddashboard" / "NI" / "NI_demandactual_22_Eirgrid.csv.gz"
    args = ["history", "import", str(one_file), "--store", str(target), "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["store"] == str(target) and summary["files"] == 1
    with HistoryStore(target) as db:
        assert db.series() == ["NI/SYSTEM_DEMAND"]
        assert db.count() > 30_000  # a year of quarter-hours
