"""smart-storage-optimizer: battery schedules by optimisation over the forecasts."""
