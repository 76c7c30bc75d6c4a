"""Loopback port helpers for local brokers and tests."""

from __future__ import annotations

import socket


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port_block(count: int, low: int = 20000, high: int = 60000) -> int:
    """The first port of ``count`` consecutive free ports (a local N-node cluster needs them)."""
    import random

    for _ in range(200):
        base = random.randrange(low, high - count)
        if not any(port_in_use(base + i) for i in range(count)):
            return base
    raise OSError(f"no block of {count} free consecutive ports found")
