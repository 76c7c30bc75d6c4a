"""NAB cost profiles: the weights of true/false positives and negatives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gridstream.errors import ValidationError


@dataclass(frozen=True)
class CostProfile:
    """One NAB application profile (``CostMatrix`` in NAB's ``profiles.json``)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float
    tn_weight: float = 1.0


STANDARD = CostProfile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
REWARD_LOW_FP = CostProfile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0)
REWARD_LOW_FN = CostProfile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0)
DEFAULT_PROFILES: tuple[CostProfile, ...] = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


def profiles_from_config(config: Mapping[str, Any]) -> tuple[CostProfile, ...]:
    """Profiles from the parsed content of NAB's ``config/profiles.json``."""
    out: list[CostProfile] = []
    for name, body in config.items():
        try:
            matrix = body["CostMatrix"]
            out.append(
                CostProfile(
                    name=name,
                    tp_weight=float(matrix["tpWeight"]),
                    fp_weight=float(matrix["fpWeight"]),
                    fn_weight=float(matrix["fnWeight"]),
                    tn_weight=float(matrix.get("tnWeight", 1.0)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(
                f"NAB profile {name!r} is malformed ({exc}); expected "
                '{"CostMatrix": {"tpWeight", "fpWeight", "fnWeight", "tnWeight"}}'
            ) from exc
    if not out:
        raise ValidationError("NAB profiles config is empty; give at least one profile")
    return tuple(out)
