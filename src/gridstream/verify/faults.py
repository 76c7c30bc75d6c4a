"""The faults of a faulty run, drawn up front from a seeded random generator.

Kills of random services happen at random moments of the replay window (restarted at once);
a broker fault (a restart of the single broker, or a SIGKILL of one node of a cluster) happens
at a random moment in the middle half of the window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    at_s: float  # seconds after the replay started
    kind: str  # "kill" (a service), "broker-restart" or "kill-broker"
    target: str  # the service (or "name#instance"), or the broker node id
    restart: bool = True  # a killed service is started again at once


def plan_faults(
    services: tuple[str, ...],
    kills: int,
    window_s: float,
    seed: int,
    broker_restart: bool = False,
    kill_broker_nodes: int = 0,
) -> list[Fault]:
    """Faults in time order; ``kill_broker_nodes`` > 0 kills one of that many nodes."""
    rng = random.Random(seed)
    faults = [
        Fault(rng.uniform(0.1, 0.9) * window_s, "kill", rng.choice(services)) for _ in range(kills)
    ]
    if broker_restart:
        faults.append(Fault(rng.uniform(0.25, 0.75) * window_s, "broker-restart", "1"))
    if kill_broker_nodes:
        node = rng.randint(1, kill_broker_nodes)
        faults.append(Fault(rng.uniform(0.25, 0.75) * window_s, "kill-broker", str(node)))
    return sorted(faults, key=lambda f: f.at_s)
