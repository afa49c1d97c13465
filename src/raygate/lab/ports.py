"""Picking the lab's loopback ports (Ray head, Serve, nginx), one place for all of them.

A port is picked, then bound later by another process (``ray start``, the Serve app minutes
after, nginx), so it must stay free in between. ``bind(0)`` would hand out a port from the
kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default), the same
range the kernel draws from for every outgoing connection and every ``bind(0)`` of the Ray
head's own workers and gRPC servers: under load one of them took the Serve port before the
Serve app bound it (a suite run beside another failed this way). Ports below that range are
never handed out implicitly; a random pick there collides only with another lab picking at the
same moment, which the callers retry."""

from __future__ import annotations

import random
import socket

from raygate.lab.errors import LabError

#: Below the kernel's default ephemeral range, above the well-known and registered services
#: a developer machine commonly runs (databases, caches, dev servers at 3000-9999).
PORT_RANGE = (20000, 32767)


def pick_port(taken: set[int] | None = None) -> int:
    """A loopback port in PORT_RANGE that binds now and is not in ``taken`` (added to it)."""
    taken = set() if taken is None else taken
    rng = random.SystemRandom()  # two labs started at once must not share a seed
    for _ in range(500):
        port = rng.randint(*PORT_RANGE)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise LabError(f"no free port in {PORT_RANGE[0]}-{PORT_RANGE[1]} on 127.0.0.1")
