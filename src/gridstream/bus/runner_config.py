"""What a :class:`~gridstream.bus.runner.Runner` is told: its service, group and batching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gridstream.bus.topics import TopicSpec

Guarantee = Literal["exactly_once", "at_least_once"]


@dataclass(frozen=True)
class RunnerConfig:
    service: str
    group: str
    dead_letter_topic: str
    guarantee: Guarantee = "exactly_once"
    instance_id: str = "0"
    batch_size: int = 500
    poll_timeout_s: float = 0.2
    #: after the first record of a batch, collect more for this long (see ``Runner._consume``)
    batch_linger_s: float = 0.0
    #: the broker's hold on a fetch that finds nothing new (``fetch.wait.max.ms``)
    fetch_wait_ms: int = 100
    state_partitions: int = 3
    state_replication: int = 1
    #: larger input records are dead-lettered unread (far above any GridStream message)
    max_record_bytes: int = 512 * 1024
    #: a timed input partition that is caught up and has delivered nothing for this long no
    #: longer holds the others back (see :mod:`gridstream.bus.alignment`): longer than a
    #: killed upstream instance's hand-over (the group's 10 s session timeout, the rebalance
    #: and the new owner's first batch: 22 s in a loaded scale-out verify), so a stalled
    #: feed is waited for, a dead one is not
    align_idle_s: float = 60.0
    #: topics created (if missing) at start-up, e.g. the pipeline topics the service uses
    ensure_topics: tuple[TopicSpec, ...] = ()
