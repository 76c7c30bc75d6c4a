"""smart-anomaly-detector: streaming anomaly scores per series."""
