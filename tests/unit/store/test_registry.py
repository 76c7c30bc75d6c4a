"""Model registry: every version kept, promote / rollback / current, safe loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridstream.core.forecasting.design import model_feature_names
from gridstream.store.registry import ModelMetadata, ModelRegistry, RegistryError

SERIES = "ALL/SYSTEM_DEMAND"


def _meta(version: str, features: list[str] | None = None) -> ModelMetadata:
    return ModelMetadata(
        series_id=SERIES,
        version=version,
        created_at_ms=1,
        train_from="2019-01-01T00:00:00+00:00",
        train_until="2021-12-04T00:00:00+00:00",
        feature_names=features or model_feature_names(),
        feature_set="test",
        data_hash="abc",
        metrics={"validation_pinball": 10.0},
        library_versions={"lightgbm": "4"},
    )


def _files(tag: str) -> dict[str, str]:
    return {
        "p10": f"tree {tag} 10",
        "p50": f"tree {tag} 50",
        "p90": f"tree {tag} 90",
        "target": json.dumps({"reference": "persistence", "lead_scales": [1.0] * 97}),
    }


def test_versions_promote_rollback_and_current(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    assert registry.current(SERIES) is None
    for version in ("v1", "v2", "v3"):
        registry.save(_meta(version), _files(version))
    assert registry.versions(SERIES) == ["v1", "v2", "v3"]
    assert registry.promote(SERIES, "v1") is None
    assert registry.promote(SERIES, "v2") == "v1"
    registry.promote(SERIES, "v3")
    assert registry.current(SERIES) == "v3"
    assert registry.rollback(SERIES) == "v2"
    assert registry.rollback(SERIES) == "v1"
    assert registry.current(SERIES) == "v1"
    with pytest.raises(RegistryError):
        registry.rollback(SERIES)
    assert registry.versions(SERIES) == ["v1", "v2", "v3"]  # nothing is ever deleted
    with pytest.raises(RegistryError):
        registry.promote(SERIES, "v9")


def test_metadata_is_kept_and_files_are_text(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    stored = registry.save(_meta("v1"), _files("a"))
    meta = registry.metadata(SERIES, "v1")
    assert meta == stored
    assert set(meta.file_sha256) == {"p10", "p50", "p90", "target"}
    assert meta.train_until.startswith("2021-12-04") and meta.data_hash == "abc"
    files = sorted(p.name for p in registry.version_dir(SERIES, "v1").iterdir())
    assert files == ["metadata.json", "p10.txt", "p50.txt", "p90.txt", "target.txt"]
    with pytest.raises(RegistryError):
        registry.save(_meta("v1"), _files("b"))  # versions are immutable


def test_loading_checks_hashes_and_feature_list(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    registry.save(_meta("v1"), _files("a"))
    _, texts = registry.load_texts(SERIES, "v1", model_feature_names())
    assert texts["p50"] == "tree a 50"
    with pytest.raises(RegistryError, match="other features"):
        registry.load_texts(SERIES, "v1", [*model_feature_names(), "extra"])
    (registry.version_dir(SERIES, "v1") / "p50.txt").write_text("tree tampered")
    with pytest.raises(RegistryError, match="hash"):
        registry.load_texts(SERIES, "v1", model_feature_names())


def test_save_requires_every_file(tmp_path: Path) -> None:
    files = _files("a")
    del files["target"]
    with pytest.raises(RegistryError):
        ModelRegistry(tmp_path).save(_meta("v1"), files)
