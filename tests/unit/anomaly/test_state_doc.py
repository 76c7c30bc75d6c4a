"""The packed state layout: the same document as JSON, and the earlier layout still read."""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import numpy as np
import pytest

from gridstream.core.anomaly.base import STATE_FORMAT
from gridstream.core.anomaly.presets import default_detector
from gridstream.core.anomaly.state_doc import MAGIC, MIN_PACKED, pack, unpack
from gridstream.errors import SerdeError

STEP = 15 * 60_000


def _warm(n: int = 800) -> Any:
    det = default_detector()
    rng = np.random.default_rng(3)
    t = np.arange(n)
    for i, v in enumerate(4000 + 800 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 30, n)):
        det.score_one(i * STEP, float(v))
    return det


def _earlier_layout(det: Any) -> bytes:
    """What ``Detector.to_bytes`` wrote before the packed layout: zlib of the JSON text."""
    doc = {"format": STATE_FORMAT, "kind": det.kind, "params": det.params()}
    doc["state"] = det.get_state()
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def test_a_document_comes_back_as_json_would_give_it() -> None:
    doc = {
        "floats": [0.1 * i for i in range(40)] + [math.inf, -0.0],
        "ints": list(range(-5, 30)),
        "big": [2**70] * MIN_PACKED,  # does not fit 64 bits: stays JSON
        "mixed": [1, 2.5] * 10,  # ints and floats: stays JSON, each keeps its type
        "short": [1.5, 2.5],
        "nested": {"rows": [[i, float(i)] for i in range(20)], "none": None, "s": ["a"] * 30},
    }
    back = unpack(pack(doc))
    assert back == json.loads(json.dumps(doc))
    assert [type(v) for v in back["mixed"]] == [int, float] * 10
    assert math.copysign(1.0, back["floats"][-1]) == -1.0
    nan = unpack(pack({"x": [math.nan] * MIN_PACKED}))["x"]
    assert all(math.isnan(v) for v in nan)


def test_the_numeric_windows_go_packed() -> None:
    det = _warm()
    new, old = det.to_bytes(), _earlier_layout(det)
    assert new.startswith(MAGIC) and not old.startswith(MAGIC)
    skeleton = zlib.decompress(new[len(MAGIC) :])
    assert b'"$f":' in skeleton
    assert unpack(new) == json.loads(zlib.decompress(old))


def test_a_detector_written_in_the_earlier_layout_restores_and_scores_the_same() -> None:
    det = _warm()
    restored = type(det).from_bytes(_earlier_layout(det))
    again = type(det).from_bytes(det.to_bytes())
    for i in range(800, 1100):
        value = 4000 + 800 * math.sin(2 * math.pi * i / 96) + (900.0 if i == 1000 else 0.0)
        want = det.score_one(i * STEP, value)
        assert restored.score_one(i * STEP, value) == want
        assert again.score_one(i * STEP, value) == want
    assert json.dumps(restored.get_state()) == json.dumps(det.get_state())


def test_reserved_keys_and_damaged_bytes_are_refused() -> None:
    with pytest.raises(SerdeError, match="reserved"):
        pack({"$f": [0, 1]})
    data = pack({"x": [0.5] * 32})
    with pytest.raises(SerdeError):
        unpack(data[:-3])
    with pytest.raises(SerdeError):
        unpack(b"not a state")
    body = zlib.decompress(data[len(MAGIC) :])
    with pytest.raises(SerdeError, match="truncated"):
        unpack(MAGIC + zlib.compress(body[:-8], 1))
