"""Raw TCP checks: the Ray Client port answers HTTP/2 (gRPC), GCS and the agent port do not.

Ray Client is gRPC over a plain TCP mapping (tcp-services), so without Ray installed the
best test is the HTTP/2 connection preface: a gRPC server answers with a SETTINGS frame.
Refused, timed out and "accepted then closed" (nginx stream with no reachable upstream) are
told apart here; what Ray Client does beyond that is in ``ray_client``.
"""

from __future__ import annotations

import asyncio
import time

from raygate.probe.model import CheckResult, ProbeOptions, Verdict

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# An empty SETTINGS frame: length 0, type 0x4, flags 0, stream 0.
H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


async def _connect(host: str, port: int, timeout: float):  # type: ignore[no-untyped-def]
    """``(reader, writer)``, or the failure as ``refused``, ``timeout`` or ``error: ...``."""
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except ConnectionRefusedError:
        return "refused"
    except asyncio.TimeoutError:
        return "timeout"
    except OSError as e:
        return f"error: {e.strerror or e}"


async def connect_outcome(host: str, port: int, timeout: float) -> str:
    """``open``, ``refused``, ``timeout`` or ``error: ...`` for a TCP connect."""
    conn = await _connect(host, port, timeout)
    if isinstance(conn, str):
        return conn
    _, writer = conn
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return "open"


async def http2_preface(host: str, port: int, timeout: float) -> str:
    """``grpc`` when a SETTINGS frame comes back, ``closed`` when the peer hangs up (a stream
    proxy with no upstream), ``http1``, ``silent`` or a connect outcome."""
    conn = await _connect(host, port, timeout)
    if isinstance(conn, str):
        return conn
    reader, writer = conn
    try:
        writer.write(H2_PREFACE + H2_SETTINGS)
        await writer.drain()
        head = await asyncio.wait_for(reader.read(9), timeout)
    except asyncio.TimeoutError:
        return "silent"
    except OSError:
        return "closed"
    finally:
        writer.close()
    if not head:
        return "closed"
    if len(head) >= 4 and head[3] == 0x4:
        return "grpc"
    if head.startswith(b"HTTP/"):
        return "http1"
    return "other"


async def check_port_closed(opts: ProbeOptions, port: int, name: str, what: str,
                            rule: str | None) -> CheckResult:
    start = time.perf_counter()
    title = f"{what} not reachable through the gateway"
    outcome = await connect_outcome(opts.gateway_host, port, min(opts.timeout, 2.0))
    elapsed = time.perf_counter() - start
    if outcome == "open":
        return CheckResult(name, title, Verdict.FAIL, elapsed,
                           detail=f"{opts.gateway_host}:{port} accepts connections",
                           cause=f"{what} is exposed on the gateway host: anyone who reaches "
                                 f"port {port} talks to the cluster's internals without the "
                                 "Dashboard's token check; remove it from tcp-services",
                           rule=rule)
    return CheckResult(name, title, Verdict.PASS, elapsed, detail=f"{port}: {outcome}")
