"""NAB (Numenta Anomaly Benchmark) scoring, reimplemented from the published method."""
