"""RG363 listener-invalid-route-kinds: ``allowedRoutes.kinds`` names a kind the listener's
protocol cannot carry.

HTTP and HTTPS listeners carry HTTPRoute and GRPCRoute, TCP listeners TCPRoute, UDP listeners
UDPRoute, TLS listeners TLSRoute (and TCPRoute in Terminate mode). A kind outside that set is
reported as ``ResolvedRefs: False`` with ``InvalidRouteKinds`` and ignored; when it was the only
kind, no route can attach (conformance ``gateway-invalid-route-kind``,
``tlsroute-listener-passthrough-supported-kinds``, ``listenerset-allowed-routes-supported-kinds``
@v1.6.1).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG363",
    name="listener-invalid-route-kinds",
    layer="infrastructure",
    severity="warning",
    kinds=("Gateway",) + attachment.LISTENER_SET_KINDS,
    title="Listener whose allowedRoutes.kinds names a route kind its protocol cannot carry",
    rationale="""
        A listener admits only the route kinds of its protocol. Listing another one (a
        TCPRoute on an HTTP listener for Ray Client, a misspelt kind) is reported as
        InvalidRouteKinds and ignored: the route of that kind never attaches, and if it was
        the only kind listed the listener admits nothing at all.
    """,
    fix="List only the route kinds of the listener's protocol (TCPRoute on a TCP listener, "
        "HTTPRoute on HTTP/HTTPS).",
    references=("https://gateway-api.sigs.k8s.io/reference/spec/#allowedroutes",),
    errors=("ResolvedRefs False InvalidRouteKinds",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith((attachment.GROUP + "/", "gateway.networking.x-k8s.io/")):
        return
    for v in attachment.listener_verdicts(ctx.objects, obj):
        if v.reason == "InvalidRouteKinds":
            yield ctx.finding(obj, v.field, f"ResolvedRefs=False InvalidRouteKinds: {v.message}",
                              reason=v.reason)
