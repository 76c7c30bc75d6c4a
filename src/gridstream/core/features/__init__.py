"""Features for forecasting: one module for the stream and the trainer (see ``pipeline``)."""

from gridstream.core.features.calendar import CALENDAR_FEATURES, calendar_features
from gridstream.core.features.grid import SERIES_FIELDS, SLOT_MS, to_wide
from gridstream.core.features.pipeline import (
    FEATURE_SET,
    batch_features,
    feature_names,
    features_from_state,
)
from gridstream.core.features.series_state import WINDOW, SeriesState, StateError

__all__ = [
    "CALENDAR_FEATURES",
    "FEATURE_SET",
    "SERIES_FIELDS",
    "SLOT_MS",
    "WINDOW",
    "SeriesState",
    "StateError",
    "batch_features",
    "calendar_features",
    "feature_names",
    "features_from_state",
    "to_wide",
]
