"""Streaming, causal anomaly detection: detectors, evidence combination, explanations."""
