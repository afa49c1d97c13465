"""RG360 route-not-accepted: a Gateway API route that its parent will not accept.

A route attaches to a Gateway (or a ListenerSet) through ``parentRefs``; the controller then
picks the parent's listeners that match the reference's ``sectionName``/``port``, keeps those
whose ``allowedRoutes`` admit the route's kind and namespace, and of those the ones whose
``hostname`` intersects the route's ``hostnames``. When none is left the route's status gets
``Accepted: False`` with ``NoMatchingParent``, ``NotAllowedByListeners`` or
``NoMatchingListenerHostname`` and no traffic reaches it: the Dashboard or Ray Client route
simply does not exist at the gateway. The decision is replayed by
``raygate.backends.gateway_api.attachment`` as the conformance suite asserts it
(kubernetes-sigs/gateway-api v1.6.1 ``conformance/tests/httproute-invalid-*``,
``tcproute-invalid-non-tcp-listener``, ``httproute-hostname-intersection``,
``listenerset-allowed-routes-namespaces``); a parent that is not in the inputs is not judged.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

_FIX = {
    "NoMatchingParent": "Point parentRefs[].sectionName (or port) at a listener the Gateway has, "
                        "or add that listener.",
    "NotAllowedByListeners": "Attach the route to a listener whose protocol carries its kind "
                             "(TCPRoute: a TCP listener) and whose allowedRoutes admit its "
                             "namespace (from: Same is the default; use Selector or All).",
    "NoMatchingListenerHostname": "Make the route's hostnames match the listener's hostname, or "
                                  "attach it to a listener without a hostname.",
}


@rule(
    code="RG360",
    name="route-not-accepted",
    layer="infrastructure",
    severity="error",
    kinds=attachment.ROUTE_KINDS,
    title="Gateway API route that its parent Gateway or ListenerSet will not accept",
    rationale="""
        Gateway API decides attachment on the controller side: a parentRef whose sectionName
        or port names no listener (NoMatchingParent), a listener that does not admit the
        route's kind or namespace (NotAllowedByListeners: a TCPRoute on an HTTP listener, a
        route in another namespace while allowedRoutes says from: Same), or hostnames that
        do not intersect (NoMatchingListenerHostname) leave the route with Accepted=False.
        kubectl apply succeeds, nothing routes: the Dashboard answers 404 and Ray Client
        connections are refused. Cross-namespace attachment is governed only by the
        listener's allowedRoutes, never by a ReferenceGrant.
    """,
    fix="Attach the route to a listener of the parent that exists, carries its kind and admits "
        "its namespace and hostnames.",
    references=(
        "https://gateway-api.sigs.k8s.io/reference/spec/#parentreference",
        "https://gateway-api.sigs.k8s.io/guides/multiple-ns/",
        "https://github.com/kubernetes-sigs/gateway-api/tree/v1.6.1/conformance/tests",
    ),
    errors=("Accepted False NotAllowedByListeners", "Accepted False NoMatchingParent",
            "Accepted False NoMatchingListenerHostname"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    for v in attachment.route_verdicts(ctx.objects, obj):
        if v.condition == "Accepted":
            yield ctx.finding(obj, v.field, f"Accepted=False {v.reason}: {v.message}",
                              fix=_FIX.get(v.reason), reason=v.reason)
