"""A small stateful processor for runner tests (also run as a subprocess by the kill test).

For every RawReading it emits a CleanReading whose ``stuck_intervals`` is the running count of
readings seen for that key: with exactly-once state and outputs the counts per key are exactly
1..n in order, with no gap and no repeat.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping

from google.protobuf.message import Message

from gridstream.bus.processor import InRecord, OutRecord, Processor
from gridstream.bus.state import StateCodec, StateView
from gridstream.errors import ValidationError
from gridstream.schemas.readings_pb2 import CleanReading, RawReading

COUNT_CODEC: StateCodec[int] = StateCodec(lambda n: str(n).encode(), lambda b: int(b.decode()))


class CountingProcessor(Processor[int]):
    state_codec = COUNT_CODEC

    def __init__(self, source: str, sink: str, delay_s: float = 0.0) -> None:
        self.source, self.sink = source, sink
        self.delay_s = delay_s  # slows the subprocess so a test can kill it mid-stream

    def inputs(self) -> Mapping[str, type[Message]]:
        return {self.source: RawReading}

    def process(self, record: InRecord, state: StateView[int]) -> Iterable[OutRecord]:
        raw = record.value
        assert isinstance(raw, RawReading)
        if raw.has_value and raw.value < 0:
            raise ValidationError(f"negative value {raw.value} for {raw.series_id}")
        if self.delay_s:
            time.sleep(self.delay_s)
        count = (state.get(raw.series_id) or 0) + 1
        state.put(raw.series_id, count)
        if raw.record_id.startswith("crash"):  # a bug after the state was changed
            state.put(raw.series_id, count + 1000)
            raise RuntimeError(f"processor bug on {raw.record_id}")
        out = CleanReading(
            record_id=raw.record_id,
            series_id=raw.series_id,
            ts_ms=raw.ts_ms,
            value=raw.value,
            stuck_intervals=count,
        )
        return [OutRecord(self.sink, raw.series_id, out)]


def main() -> None:
    """argv: bootstrap source sink group dead_letter_topic [per-record delay in seconds]"""
    import logging

    from gridstream.bus.runner import Runner, RunnerConfig
    from gridstream.bus.settings import KafkaSettings

    logging.basicConfig(level=logging.INFO)
    bootstrap, source, sink, group, dlq = sys.argv[1:6]
    delay = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
    runner = Runner(
        KafkaSettings(bootstrap=bootstrap),
        RunnerConfig(service="counting", group=group, dead_letter_topic=dlq, batch_size=50),
        CountingProcessor(source, sink, delay),
    )
    runner.install_signal_handlers()
    runner.run()


if __name__ == "__main__":
    main()
