"""The trainer warm-up before a replay: trained on what precedes the start, reused next time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from gridstream.services.trainer.jobs import TrainerSettings
from gridstream.stack.warmup import history_before, warm_trainer
from gridstream.store.history import HistoryStore
from gridstream.store.registry import ModelRegistry

RECORDED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "eirgrid"
START = datetime(2022, 12, 17, tzinfo=UTC)


@pytest.fixture
def recorded() -> Path:
    if not RECORDED.exists():
        pytest.skip(f"real data not available: {RECORDED} is missing")
    return RECORDED


def test_history_before_the_start_only(recorded: Path) -> None:
    frame = history_before(recorded, START, 2, ["NI"])
    assert not frame.empty and set(frame["region"]) == {"NI"}
    assert frame["ts"].max() < pd.Timestamp(START)
    assert frame["ts"].min() >= pd.Timestamp(START) - pd.Timedelta(weeks=2)


def test_warm_up_trains_promotes_and_is_found_again(recorded: Path, tmp_path: Path) -> None:
    config = TrainerSettings(
        regions="NI", series="co2", bootstrap_samples=4000, bootstrap_rounds=20
    )
    registry_root, history = tmp_path / "models", tmp_path / "history" / "h.duckdb"
    seen: list[str] = []
    first = warm_trainer(
        recorded, START, registry_root, history, lambda sid, d, t: seen.append(sid), config
    )
    assert [m.series_id for m in first] == ["NI/CO2_INTENSITY"] and first[0].trained
    assert "NI/CO2_INTENSITY" in seen
    registry = ModelRegistry(registry_root)
    meta = registry.metadata("NI/CO2_INTENSITY", first[0].version)
    assert meta.params["reason"] == "warm-up"
    assert pd.Timestamp(meta.params["validation_until"]) <= pd.Timestamp(START)  # out of sample
    assert registry.current("NI/CO2_INTENSITY") == first[0].version
    with HistoryStore(history) as db:
        stored = db.read_frame()
    assert not stored.empty and stored["ts"].max() < pd.Timestamp(START)

    # a model trained on later data became current meanwhile: the warm-up model comes back
    later = warm_trainer(
        recorded, datetime(2022, 12, 24, tzinfo=UTC), registry_root, history, config=config
    )
    assert registry.current("NI/CO2_INTENSITY") == later[0].version != first[0].version
    again = warm_trainer(recorded, START, registry_root, history, config=config)
    assert again[0].version == first[0].version and not again[0].trained
    assert registry.current("NI/CO2_INTENSITY") == first[0].version
