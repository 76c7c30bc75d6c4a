"""Fault-injection verification: exactly-once under kills and broker faults, and scale-out."""
