"""The model registry: a directory keeping every model version with its metadata.

Layout (``series`` is ``REGION__FIELD``)::

    <root>/<series>/versions/<version>/p10.txt, p50.txt, p90.txt   LightGBM model text
    <root>/<series>/versions/<version>/target.txt                  target transform (JSON)
    <root>/<series>/versions/<version>/metadata.json               window, features, hash...
    <root>/<series>/CURRENT                                        promoted version
    <root>/<series>/promotions.jsonl                               promotion log (rollback)

Models are LightGBM's plain-text format, never pickle: loading a tampered or foreign file
cannot execute code. Each file's SHA-256 is in the metadata and checked on load, together
with the feature list the caller expects.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridstream.errors import GridstreamError

MODEL_FILES = ("p10", "p50", "p90", "target")
"""Files of a version, each ``<name>.txt``: three LightGBM model texts and the target
transform (JSON: reference kind and per-lead scales)."""


class RegistryError(GridstreamError):
    """A model version is missing, tampered with or incompatible with this code."""


@dataclass(frozen=True)
class ModelMetadata:
    """What is known about one model version (stored as ``metadata.json``)."""

    series_id: str
    version: str
    created_at_ms: int
    train_from: str
    train_until: str
    feature_names: list[str]
    feature_set: str
    data_hash: str
    metrics: dict[str, float]
    library_versions: dict[str, str]
    file_sha256: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        return cls(**json.loads(text))


def _dir_name(series_id: str) -> str:
    return series_id.replace("/", "__")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelRegistry:
    """Versions of quantile models per series, with promote / rollback / current."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _series_dir(self, series_id: str) -> Path:
        return self.root / _dir_name(series_id)

    def version_dir(self, series_id: str, version: str) -> Path:
        return self._series_dir(series_id) / "versions" / version

    def save(self, metadata: ModelMetadata, models: dict[str, str]) -> ModelMetadata:
        """Store a new version: ``models`` maps each of ``MODEL_FILES`` to its text."""
        if set(models) != set(MODEL_FILES):
            raise RegistryError(f"a version needs exactly the files {sorted(MODEL_FILES)}")
        target = self.version_dir(metadata.series_id, metadata.version)
        if target.exists():
            raise RegistryError(f"version {metadata.version} of {metadata.series_id} exists")
        tmp = target.with_name(target.name + ".tmp")
        tmp.mkdir(parents=True)
        hashes = {}
        for name, text in models.items():
            data = text.encode()
            (tmp / f"{name}.txt").write_bytes(data)
            hashes[name] = _sha256(data)
        stored = ModelMetadata(**{**metadata.__dict__, "file_sha256": hashes})
        (tmp / "metadata.json").write_text(stored.to_json())
        os.replace(tmp, target)
        return stored

    def versions(self, series_id: str) -> list[str]:
        """All stored versions, oldest first (version names sort by creation time)."""
        base = self._series_dir(series_id) / "versions"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.endswith(".tmp"))

    def metadata(self, series_id: str, version: str) -> ModelMetadata:
        path = self.version_dir(series_id, version) / "metadata.json"
        if not path.is_file():
            raise RegistryError(f"no model version {version} for {series_id} in {self.root}")
        return ModelMetadata.from_json(path.read_text())

    def load_texts(
        self, series_id: str, version: str, expected_features: list[str]
    ) -> tuple[ModelMetadata, dict[str, str]]:
        """Model texts of a version after checking file hashes and the feature list."""
        meta = self.metadata(series_id, version)
        if meta.feature_names != expected_features:
            raise RegistryError(
                f"model {series_id}@{version} was trained with other features than this code "
                "computes; retrain it with `gridstream train` or roll back"
            )
        texts = {}
        for name in MODEL_FILES:
            data = (self.version_dir(series_id, version) / f"{name}.txt").read_bytes()
            if _sha256(data) != meta.file_sha256.get(name):
                raise RegistryError(
                    f"model file {name}.txt of {series_id}@{version} does not match its "
                    "recorded hash (tampered or corrupt); roll back or retrain"
                )
            texts[name] = data.decode()
        return meta, texts

    def current(self, series_id: str) -> str | None:
        """The promoted version of a series, or None."""
        path = self._series_dir(series_id) / "CURRENT"
        return path.read_text().strip() or None if path.is_file() else None

    def promote(self, series_id: str, version: str, reason: str = "manual") -> str | None:
        """Make ``version`` current; returns the previous current version."""
        if version not in self.versions(series_id):
            raise RegistryError(f"cannot promote unknown version {version} of {series_id}")
        previous = self.current(series_id)
        self._write_current(series_id, version)
        entry = {
            "version": version,
            "previous": previous,
            "reason": reason,
            "at_ms": int(time.time() * 1000),
        }
        with (self._series_dir(series_id) / "promotions.jsonl").open("a") as log:
            log.write(json.dumps(entry) + "\n")
        return previous

    def rollback(self, series_id: str) -> str:
        """Return to the version promoted before the current one (repeatable)."""
        stack = self._promotion_stack(series_id)
        if len(stack) < 2:
            raise RegistryError(f"{series_id} has no earlier promoted version to roll back to")
        target = stack[-2]
        self.promote(series_id, target, reason="rollback")
        return target

    def _promotion_stack(self, series_id: str) -> list[str]:
        """Promoted versions in order, with rolled-back ones removed."""
        log = self._series_dir(series_id) / "promotions.jsonl"
        stack: list[str] = []
        if not log.is_file():
            return stack
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if entry["reason"] == "rollback":
                stack.pop()
            else:
                stack.append(str(entry["version"]))
        return stack

    def _write_current(self, series_id: str, version: str) -> None:
        path = self._series_dir(series_id) / "CURRENT"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(version + "\n")
        os.replace(tmp, path)
