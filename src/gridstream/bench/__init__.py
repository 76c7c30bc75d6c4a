"""``gridstream bench``: the end-to-end throughput, latency and memory benchmark.

``run.run_bench`` starts (or borrows) a broker, measures the raw produce->consume ceiling,
replays recorded data through every pipeline stage in exactly-once mode, then feeds readings
at a live-like rate to measure latency, and reports peak memory per service.
"""
