"""When to promote a new model and when to retrain.

* Promotion: a candidate replaces the incumbent only if it beats it on the latest validation
  window (mean pinball loss over all leads, lower is better). Without an incumbent the first
  valid candidate is promoted.
* Retraining: on a schedule (daily by default), when the live error drifts above the model's
  validation error by a margin, or on request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Decision:
    """A yes/no decision with the reason a log line or an event can carry."""

    yes: bool
    reason: str


def promotion_decision(
    candidate: float, incumbent: float | None, min_improvement: float = 0.0
) -> Decision:
    """Promote if ``candidate`` loss < ``incumbent`` loss × (1 − ``min_improvement``)."""
    if not math.isfinite(candidate):
        return Decision(False, "candidate has no valid validation loss")
    if incumbent is None or not math.isfinite(incumbent):
        return Decision(True, "no incumbent model")
    if candidate < incumbent * (1.0 - min_improvement):
        return Decision(True, f"beats incumbent on validation: {candidate:.4g} < {incumbent:.4g}")
    return Decision(False, f"does not beat incumbent: {candidate:.4g} >= {incumbent:.4g}")


@dataclass(frozen=True)
class RetrainPolicy:
    """Retraining triggers: ``interval_ms`` schedule and a relative drift ``margin``."""

    interval_ms: int = DAY_MS
    drift_margin: float = 0.25
    min_live_samples: int = 96

    def decide(
        self,
        now_ms: int,
        last_trained_ms: int | None,
        live_error: float | None = None,
        live_samples: int = 0,
        validation_error: float | None = None,
        requested: bool = False,
    ) -> Decision:
        """Whether to retrain now, and why (``manual``, ``bootstrap``, ``drift``, ``schedule``)."""
        if requested:
            return Decision(True, "manual")
        if last_trained_ms is None:
            return Decision(True, "bootstrap")
        if (
            live_error is not None
            and validation_error is not None
            and live_samples >= self.min_live_samples
            and validation_error > 0
            and live_error > validation_error * (1.0 + self.drift_margin)
        ):
            return Decision(True, "drift")
        if now_ms - last_trained_ms >= self.interval_ms:
            return Decision(True, "schedule")
        return Decision(False, "model is fresh and within its validation error")
