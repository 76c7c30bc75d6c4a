"""Local Apache Kafka (KRaft) for laptops and tests: fetch, format, start, stop, status."""
