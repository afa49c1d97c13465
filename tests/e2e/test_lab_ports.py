"""The lab's ports survive a neighbour: the Serve port picked at start and taken by another
process before the Serve app binds it (seen when two suites ran side by side) is replaced by a
new one, and Serve answers there."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from raygate.lab.ports import PORT_RANGE, pick_port
from raygate.lab.ray_head import deploy_serve, start_ray_head, stop_ray_head


def test_picked_ports_are_outside_the_kernel_ephemeral_range() -> None:
    """The kernel hands out implicit ports (outgoing connections, bind(0) by Ray's workers)
    from ip_local_port_range: a picked port must never be one of those."""
    first, _last = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    taken: set[int] = set()
    ports = [pick_port(taken) for _ in range(50)]
    assert len(set(ports)) == 50 and taken == set(ports)
    assert all(PORT_RANGE[0] <= p <= PORT_RANGE[1] < first for p in ports)


@pytest.mark.e2e
def test_serve_moves_to_a_new_port_when_its_port_was_taken(tmp_path: Path) -> None:
    head = start_ray_head(tmp_path / "lab", auth=True, serve=False)
    squatter = socket.socket()
    try:
        squatter.bind(("127.0.0.1", head.serve_port))
        squatter.listen()
        taken = head.serve_port
        deploy_serve(head, tmp_path / "lab")
        assert head.serve_ready and head.serve_port != taken
        r = httpx.get(f"http://127.0.0.1:{head.serve_port}/hello", timeout=10)
        assert r.status_code == 200 and r.json()["hello"] == "world"
    finally:
        squatter.close()
        stop_ray_head(head)
