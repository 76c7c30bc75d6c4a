"""Container health probe: exit 0 when this container's service answers ``/ready`` with 200.

The port is ``GRIDSTREAM_HTTP_PORT`` when set, otherwise the default port of the service named
on the container's command line (``gridstream service NAME``), so one image-level HEALTHCHECK
serves every service.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path


def service_name(cmdline: list[str]) -> str | None:
    """NAME from ``... gridstream service NAME ...`` (a ``--port`` option is honoured elsewhere)."""
    for i, arg in enumerate(cmdline[:-1]):
        if arg == "service" and not cmdline[i + 1].startswith("-"):
            return cmdline[i + 1]
    return None


def port_from_cmdline(cmdline: list[str]) -> int | None:
    for i, arg in enumerate(cmdline):
        if arg == "--port" and i + 1 < len(cmdline):
            return int(cmdline[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return None


def probe_port() -> int:
    explicit = os.environ.get("GRIDSTREAM_HTTP_PORT")
    if explicit:
        return int(explicit)
    raw = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    cmdline = [part.decode(errors="replace") for part in raw if part]
    port = port_from_cmdline(cmdline)
    if port is not None:
        return port
    name = service_name(cmdline)
    if name is None:
        raise SystemExit(f"not a service container (command: {' '.join(cmdline)})")
    from gridstream.config import SERVICE_PORTS

    return SERVICE_PORTS[name]


def main() -> int:
    url = f"http://127.0.0.1:{probe_port()}/ready"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
