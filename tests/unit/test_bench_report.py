"""The benchmark's table formatting: figures are shown with the digits that matter."""

from __future__ import annotations

from gridstream.bench.report import _fmt


def test_ratios_below_one_keep_their_digits_and_large_figures_are_grouped() -> None:
    assert _fmt(0.051) == "0.051"
    assert _fmt(572.54) == "572.5"
    assert _fmt(77951.7) == "77,951.7"
    assert _fmt(195042) == "195,042"
    assert _fmt(None) == "-"
    assert _fmt(True) == "True"
