"""smart-alert-engine: alert rules over anomalies, grouping, silences, receivers and its HTTP
API."""
