"""Worker setup hook that keeps Ray Serve replicas on loopback.

Ray Serve 2.60 replicas start their inter-deployment gRPC server on ``[::]:0`` (hard-coded in
``ray/serve/_private/replica.py``), i.e. on every interface, and no setting changes it. The lab
promises to bind everything to 127.0.0.1, so its Serve deployment calls this from its constructor,
which runs in the replica's worker before the replica starts that server
(``worker_process_setup_hook`` is not applied to Serve replicas, so it cannot be used).
"""

from __future__ import annotations

from typing import Any


def bind_serve_replicas_to_loopback() -> None:
    try:
        from ray.serve._private import replica
    except ImportError:  # pragma: no cover - Ray without Serve
        return
    original = getattr(replica, "add_port_to_grpc_server", None)
    if original is None or getattr(original, "_raygate_loopback", False):
        return

    def loopback_only(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address[len("[::]:"):]
        return original(server, address)

    loopback_only._raygate_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = loopback_only
