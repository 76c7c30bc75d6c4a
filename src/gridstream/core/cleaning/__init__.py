"""Cleaning raw EirGrid readings: validation, grid alignment, duplicates and quality flags."""

from gridstream.core.cleaning.cleaner import Cleaner
from gridstream.core.cleaning.rules import InvalidReading, SeriesRule, rule_for_field
from gridstream.core.cleaning.state import SeriesState

__all__ = ["Cleaner", "InvalidReading", "SeriesRule", "SeriesState", "rule_for_field"]
