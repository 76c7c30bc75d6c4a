"""The alert engine's rules file: loaded and validated, reloadable while the service runs.

``GRIDSTREAM_ALERTS_RULES_FILE`` names the file; without it the rules shipped with the package
(``alert_rules.yaml`` beside this module) are used. A reload that fails validation keeps the
rules in force and reports why; a changed file is picked up by :meth:`reload_if_changed`
(called by the worker every tick) or by ``POST /rules/reload``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from gridstream.core.alerts.rules import RuleSet, parse_rules_yaml
from gridstream.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_RULES_FILE = Path(__file__).with_name("alert_rules.yaml")
MAX_RULES_BYTES = 1_048_576  # a rules file is a few KB; refuse to parse anything huge


def load_rules_file(path: Path) -> tuple[RuleSet, str]:
    """The validated rules of ``path`` and a short version hash of its text."""
    try:
        size = path.stat().st_size
        if size > MAX_RULES_BYTES:
            raise ConfigError(
                f"alert rules {path} are {size} bytes, more than {MAX_RULES_BYTES}: "
                "point GRIDSTREAM_ALERTS_RULES_FILE at the rules file, not at data"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read alert rules {path}: {exc}; set GRIDSTREAM_ALERTS_RULES_FILE "
            "to a readable YAML file"
        ) from exc
    try:
        rules = parse_rules_yaml(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return rules, hashlib.sha256(text.encode()).hexdigest()[:12]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


class RulesHolder:
    """The rules in force; thread-safe (the HTTP thread reloads, the worker reads)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_RULES_FILE
        self._lock = threading.Lock()
        self._rules, self._version = load_rules_file(self.path)
        self._mtime = _mtime(self.path)
        self._loaded_at_ms = int(time.time() * 1000)
        self._last_error = ""

    def current(self) -> RuleSet:
        with self._lock:
            return self._rules

    def reload(self) -> RuleSet:
        """Load the file again; on a validation error keep the current rules and raise."""
        mtime = _mtime(self.path)
        try:
            rules, version = load_rules_file(self.path)
        except ConfigError as exc:
            with self._lock:
                self._mtime, self._last_error = mtime, str(exc)
            raise
        with self._lock:
            changed = version != self._version
            self._rules, self._version, self._mtime = rules, version, mtime
            self._loaded_at_ms, self._last_error = int(time.time() * 1000), ""
        if changed:
            log.info("alert rules reloaded from %s (version %s)", self.path, version)
        return rules

    def reload_if_changed(self) -> bool:
        """Reload when the file's modification time changed; False if nothing was loaded."""
        with self._lock:
            known = self._mtime
        if _mtime(self.path) == known:
            return False
        try:
            self.reload()
        except ConfigError as exc:
            log.error("alert rules not reloaded, keeping the previous ones: %s", exc)
            return False
        return True

    def describe(self) -> dict[str, Any]:
        with self._lock:
            rules, version = self._rules, self._version
            loaded, error = self._loaded_at_ms, self._last_error
        return {
            "source": str(self.path),
            "version": version,
            "loaded_at_ms": loaded,
            "last_reload_error": error,
            **rules.model_dump(mode="json", by_alias=True),
        }
