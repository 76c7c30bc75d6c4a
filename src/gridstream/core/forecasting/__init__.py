"""Quantile forecasting: models, baselines, metrics, backtests, promotion and retraining."""

from gridstream.core.forecasting.baselines import seasonal_naive_forecast
from gridstream.core.forecasting.issued import quantile_forecasts
from gridstream.core.forecasting.promotion import Decision, RetrainPolicy, promotion_decision
from gridstream.core.forecasting.quantile_model import QuantileForecaster
from gridstream.core.forecasting.train_config import TrainConfig
from gridstream.core.forecasting.trajectory import Trajectory

__all__ = [
    "Decision",
    "QuantileForecaster",
    "RetrainPolicy",
    "TrainConfig",
    "Trajectory",
    "promotion_decision",
    "quantile_forecasts",
    "seasonal_naive_forecast",
]
