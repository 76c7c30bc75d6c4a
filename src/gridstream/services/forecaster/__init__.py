"""smart-ml-forecaster: quantile forecasts from feature vectors with the registry's current
models."""
