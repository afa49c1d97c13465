"""When the head's per-client server fails to start, the probe retries and then reports a
head-side warning, not a gateway failure.

The server here is a real gRPC server speaking Ray Client's own protocol (Ray's generated
``ray_client_pb2_grpc`` services), answering as Ray 2.60's proxier does when the per-client
server dies at start (proxier.py: ``Starting Ray client server failed. See
ray_client_server_<port>.err``). The client is the probe's real ``ray.init("ray://...")``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent import futures
from typing import Any, Iterator

import pytest

from raygate.probe.model import ProbeOptions, Verdict
from raygate.probe.ray_client import (PROBE_RECONNECT_GRACE_S, SERVER_START_ATTEMPTS,
                                      check_ray_client)

grpc = pytest.importorskip("grpc")
pytest.importorskip("ray")
from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc  # noqa: E402

pytestmark = pytest.mark.e2e


class FailingProxier(ray_client_pb2_grpc.RayletDriverServicer,
                     ray_client_pb2_grpc.RayletDataStreamerServicer):
    """Answers the ping, then fails every session's init as the proxier does."""

    def __init__(self) -> None:
        self.sessions = 0
        self.grace_periods: list[int] = []
        self.lock = threading.Lock()

    def ClusterInfo(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
        return ray_client_pb2.ClusterInfoResponse(json=json.dumps({}))

    def Datapath(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:  # noqa: N802
        first = next(request_iterator)
        with self.lock:
            port = 23000 + self.sessions
            self.sessions += 1
        yield ray_client_pb2.DataResponse(req_id=first.req_id, init=ray_client_pb2.InitResponse(
            ok=False, msg=f"RuntimeError: Starting Ray client server failed. See "
                          f"ray_client_server_{port}.err for detailed logs."))
        # The proxier then holds the stream for the client's reconnect grace period (its
        # ``finally`` waits ``reconnect_grace_periods[client_id]``, taken from this init
        # request), and the client's ``ray.init`` only raises once the stream ends.
        self.grace_periods.append(first.init.reconnect_grace_period)
        deadline = time.monotonic() + first.init.reconnect_grace_period
        while context.is_active() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture()
def failing_proxier() -> Iterator[tuple[FailingProxier, int]]:
    servicer = FailingProxier()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    ray_client_pb2_grpc.add_RayletDriverServicer_to_server(servicer, server)
    ray_client_pb2_grpc.add_RayletDataStreamerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(grace=None)


def test_per_client_server_failure_is_retried_then_a_head_side_warning(
        failing_proxier: tuple[FailingProxier, int]) -> None:
    servicer, port = failing_proxier
    opts = ProbeOptions(url="http://127.0.0.1:1/ray/", client=f"127.0.0.1:{port}",
                        client_timeout=10)
    result = asyncio.run(check_ray_client(opts))

    # Every attempt was a fresh session (a fresh per-client server on a real head).
    assert servicer.sessions == SERVER_START_ATTEMPTS
    assert result.verdict is Verdict.WARN, result
    # Each failed session ended after the probe's short grace, not Ray's default 30 s.
    assert servicer.grace_periods == [PROBE_RECONNECT_GRACE_S] * SERVER_START_ATTEMPTS
    assert "head-side" in (result.cause or "") and "not the gateway" in (result.cause or "")
    retried = result.data["retried_after"]
    assert len(retried) == SERVER_START_ATTEMPTS - 1
    assert all("Starting Ray client server failed" in r for r in retried)
    # The last attempt's server log is named, so the user knows which file to read.
    assert f"ray_client_server_{23000 + SERVER_START_ATTEMPTS - 1}.err" in result.detail
