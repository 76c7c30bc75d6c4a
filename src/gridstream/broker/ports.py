"""Loopback port helpers for local brokers and tests."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux; a common default
    elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _listen_range() -> tuple[int, int]:
    """Ports to listen on: below the ephemeral range when there is room, else above it.

    A client reconnecting to a local port nobody listens on (a broker being restarted) can
    be handed that very port as its own source port and connect to itself (TCP simultaneous
    open); it then holds the port and the broker cannot bind it again ("Address already in
    use"). Ports outside the ephemeral range are never handed out that way."""
    low, high = _ephemeral_range()
    if low - 10000 >= 1024:
        return 10000, low
    return high + 1, 65535


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports, outside the ephemeral range, that were free a moment ago."""
    low, high = _listen_range()
    found: list[int] = []
    for _ in range(count * 200):
        port = random.randrange(low, high)
        if port not in found and not port_in_use(port, host):
            found.append(port)
            if len(found) == count:
                return found
    raise OSError(f"no {count} free ports found between {low} and {high}")


def free_port_block(count: int) -> int:
    """The first port of ``count`` consecutive free ports (a local N-node cluster needs
    them), outside the ephemeral range."""
    low, high = _listen_range()
    for _ in range(200):
        base = random.randrange(low, high - count)
        if not any(port_in_use(base + i) for i in range(count)):
            return base
    raise OSError(f"no block of {count} free consecutive ports found")


def free_offset(ports: Iterable[int], tries: int = 50) -> int:
    """An offset (a multiple of 100 in 20000-39900) at which none of ``ports`` is in use:
    ``up --port-offset`` for a second stack beside a first."""
    wanted = list(ports)
    for _ in range(tries):
        offset = random.randrange(20000, 40000, 100)
        if not any(port_in_use(p + offset) for p in wanted):
            return offset
    raise OSError(f"no free block of {len(wanted)} service ports found in {tries} tries")
