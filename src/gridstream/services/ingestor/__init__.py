"""smart-ingestor: EirGrid readings into Kafka (live polling, backfill, replay, simulator), its
job API and settings."""
