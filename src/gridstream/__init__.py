"""GridStream: a real-time forecasting and control pipeline for Ireland's grid, on Kafka."""

__version__ = "0.1.0"
