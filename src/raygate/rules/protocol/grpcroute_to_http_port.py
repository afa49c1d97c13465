"""RG268 grpcroute-to-http-port: a GRPCRoute to a Ray head port whose server speaks HTTP/1.1 only.

A GRPCRoute carries gRPC calls, and gRPC is HTTP/2 end to end (grpc/grpc
``doc/PROTOCOL-HTTP2.md``: requests, trailers and streams are HTTP/2 frames), so the gateway
opens HTTP/2 to the backend. Of the Ray head's ports only the Ray Client
(10001), GCS (6379) and Serve's gRPC proxy (``grpc_options.port``, 9000 by default,
``python/ray/serve/config.py: gRPCOptions``) are gRPC servers; the Dashboard and the dashboard
agent (aiohttp), Serve's HTTP proxy (uvicorn) and the metrics exporter (``prometheus_client``)
speak HTTP/1.1 only (``model.exposure.HTTP1_ONLY_ROLES``). Such a route is accepted by the
controller and resolves its backend, so nothing in the route's status says it is broken; every
call through it fails. The realistic case is Serve: a GRPCRoute to the ``serve`` port (8000)
instead of the gRPC proxy's port. The security rules do not count such a route as a way in
(``exposure.carries_requests``): no request reaches the server behind it.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.model import exposure as exp
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.security import _ray_reach as reach

_WHAT = {"dashboard": "Ray Dashboard (aiohttp)",
         "dashboard-agent": "Ray dashboard agent (aiohttp)",
         "serve": "Ray Serve HTTP proxy (uvicorn)",
         "metrics": "Ray metrics exporter (prometheus_client)"}
_FIX = {"serve": ("Point the GRPCRoute at Serve's gRPC proxy port (grpc_options.port, 9000 by "
                  "default, declared on the head container as serve-grpc), or route the HTTP "
                  "port with an HTTPRoute."),
        "dashboard": "Route the Dashboard with an HTTPRoute, not a GRPCRoute.",
        "dashboard-agent": ("Remove the GRPCRoute: the dashboard agent should not leave the "
                            "cluster."),
        "metrics": "Remove the GRPCRoute: scrape the metrics port from inside the cluster."}


@rule(
    code="RG268",
    name="grpcroute-to-http-port",
    layer="protocol",
    severity="error",
    kinds=("GRPCRoute",),
    title="GRPCRoute to a Ray head port that speaks HTTP/1.1 only",
    rationale="""
        A GRPCRoute carries gRPC, which is HTTP/2 all the way to the backend. Of the Ray head's
        ports only the Ray Client (10001), GCS (6379) and Ray Serve's gRPC proxy
        (`grpc_options.port`, 9000 by default) are gRPC servers. The Dashboard, the dashboard
        agent, Serve's HTTP proxy (8000) and the metrics port speak HTTP/1.1 only: they cannot
        read the gateway's HTTP/2, and every call through the route fails, although the
        controller accepts the route and resolves its backend. Serving a Ray Serve gRPC
        application needs a GRPCRoute to the gRPC proxy's port, which the head container must
        declare (KubeRay's Serve Service carries ports named `serve` or `serve-*`).
    """,
    fix=("Point the GRPCRoute at a gRPC port (Serve's gRPC proxy, grpc_options.port), or use "
         "an HTTPRoute for an HTTP port."),
    references=(
        "https://docs.ray.io/en/latest/serve/advanced-guides/grpc-guide.html",
        "https://gateway-api.sigs.k8s.io/api-types/grpcroute/",
        "https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for e in reach.exposures_of(ctx.objects, obj):
        role = reach.port_role(e, reach.ray_behind(ctx.objects, e))
        if e.channel != "grpc" or role not in exp.HTTP1_ONLY_ROLES:
            continue
        note, severity = "", None
        if e.head is not None and not e.head.certain:
            note = f"{e.head.note()}"
            severity = "warning" if e.head.confidence == "possible" else None
        yield ctx.finding(
            obj, e.field,
            f"{reach.how(e)} sends gRPC (HTTP/2) to the {_WHAT[role]}, which speaks HTTP/1.1 "
            f"only: it cannot read the gateway's HTTP/2, so every call through this route fails "
            f"although the route is accepted{note}",
            fix=_FIX[role], severity=severity, port=role)
