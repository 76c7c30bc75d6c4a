"""Alertmanager-style alerting as pure logic: rules, lifecycle, grouping, silences."""
