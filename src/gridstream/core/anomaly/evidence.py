"""Turning forecasts, detector output and quality flags into scored evidence."""

from __future__ import annotations

from dataclasses import dataclass

from gridstream.core.anomaly.explain import amount, duration, horizon, series_name
from gridstream.core.anomaly.model import Evidence, ForecastPoint, Label, QualityFlags, Reading


@dataclass(frozen=True)
class EvidenceConfig:
    """How much each kind of evidence counts (one set for every series)."""

    band_half: float = 1.0  # excess outside P10-P90, in band widths, that scores 0.5
    min_band_share: float = 0.01  # band floor as a share of |P50| (degenerate forecasts)
    stuck_min_intervals: int = 4
    gap_min_intervals: int = 2
    gap_full_intervals: int = 8


def forecast_evidence(
    reading: Reading, forecast: ForecastPoint, config: EvidenceConfig
) -> Evidence:
    """How far the actual lies outside the forecast's P10-P90 band, in band widths."""
    band = max(forecast.p90 - forecast.p10, config.min_band_share * abs(forecast.p50), 1e-9)
    name = series_name(reading.series_id)
    when = horizon(forecast.horizon_minutes)
    if reading.value < forecast.p10:
        excess = forecast.p10 - reading.value
        detail = f"{name} {amount(excess, reading.unit)} below P10 of the {when} forecast"
    elif reading.value > forecast.p90:
        excess = reading.value - forecast.p90
        detail = f"{name} {amount(excess, reading.unit)} above P90 of the {when} forecast"
    else:
        return Evidence(
            "forecast_residual", 0.0, f"{name} within the P10-P90 band of the {when} forecast"
        )
    ratio = excess / band
    return Evidence(
        "forecast_residual", ratio / (ratio + config.band_half), detail, Label.FORECAST_MISS
    )


def quality_evidence(
    reading: Reading, flags: QualityFlags, config: EvidenceConfig
) -> Evidence | None:
    """Stuck feeds, spikes that fell back and gaps as evidence (``None``: the reading is clean).

    A spike is the cleaner's SPIKE step (many times the recent typical step) followed within
    an hour by a return to the level before it: a transient, which a level shift is not.
    """
    name = series_name(reading.series_id)
    step_ms = max(flags.interval_minutes, 1) * 60_000
    if flags.stuck and flags.stuck_intervals >= config.stuck_min_intervals:
        frozen_ms = flags.stuck_intervals * step_ms
        return Evidence(
            "data_quality",
            1.0,
            f"{name} stuck at {amount(reading.value, reading.unit)} for {duration(frozen_ms)}",
            Label.STUCK,
        )
    if flags.spike_step:
        direction = "jumped" if flags.spike_step > 0 else "dropped"
        return Evidence(
            "data_quality",
            1.0,
            f"{name} {direction} {amount(flags.spike_step, reading.unit)} and fell back "
            f"after {duration(flags.spike_ms)}",
            Label.SPIKE,
        )
    missing = flags.gap_before_ms // step_ms
    if missing >= config.gap_min_intervals:
        span = max(config.gap_full_intervals - config.gap_min_intervals, 1)
        score = 0.5 + 0.5 * min(1.0, (missing - config.gap_min_intervals) / span)
        return Evidence(
            "data_quality",
            score,
            f"{name}: {duration(flags.gap_before_ms)} of readings missing before this one",
            Label.GAP,
        )
    return None


def detector_evidence(reading: Reading, score: float, center: float) -> Evidence:
    """The streaming detector's verdict, worded against the level it expected."""
    name = series_name(reading.series_id)
    if center != center:  # NaN: still warming up
        return Evidence("streaming_detector", score, f"{name}: detector warming up")
    delta = reading.value - center
    label = Label.SPIKE if delta > 0 else Label.DIP
    direction = "above" if delta > 0 else "below"
    detail = f"{name} {amount(delta, reading.unit)} {direction} its recent typical level"
    return Evidence("streaming_detector", score, detail, label)
