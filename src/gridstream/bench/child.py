"""One pipeline service as a benchmark child process, in its own consumer group.

``python -m gridstream.bench.child NAME PORT GROUP_PREFIX`` runs the service exactly as
``gridstream service NAME`` does (worker thread + HTTP API) but with its consumer group
prefixed, so its offsets, transactional id and state changelog never mix with another run
on a shared broker.
"""

from __future__ import annotations

import sys

from gridstream.bus.runner import Runner
from gridstream.config import load_settings
from gridstream.errors import ConfigError
from gridstream.services.host import serve
from gridstream.services.registry import build_service_process


def _runners(worker: object) -> list[Runner[object]]:
    """The runner(s) of a worker: the worker itself or the runners it wraps."""
    if isinstance(worker, Runner):
        return [worker]
    return [v for v in vars(worker).values() if isinstance(v, Runner)]


def main(argv: list[str] | None = None) -> int:
    name, port, prefix = (argv if argv is not None else sys.argv[1:])[:3]
    settings = load_settings()
    parts = build_service_process(name, settings)
    if prefix:
        runners = _runners(parts.worker)
        if len(runners) != 1:
            raise ConfigError(f"{name} is not a runner-based service: cannot isolate its group")
        runners[0].regroup(f"{prefix}{runners[0].config.group}")
    return serve(parts, settings.http_host, int(port))


if __name__ == "__main__":
    sys.exit(main())
