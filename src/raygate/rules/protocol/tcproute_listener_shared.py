"""RG260 tcproute-listener-shared: two TCPRoutes on one TCP listener; only the oldest works.

TCPRoute has no match fields, so a TCP listener cannot tell two routes' connections apart: when
several TCPRoutes attach to the same listener, all report Accepted but only the oldest is
attached (conformance ``TCPRouteMultipleRoutesAttachment``,
``conformance/tests/tcproute-multiple-routes-attachment.go`` @v1.6.1; facts
``gateway_api_metallb.md`` §3.2). Two Ray clusters' Ray Client routes on one ``:10001`` listener
is the common way in: the second cluster's ``ray.init("ray://...")`` silently reaches the
first cluster.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule


def _attachments(objects: ObjectSet) -> dict[tuple[int, str], list[KubeObject]]:
    """(id(listener owner), listener name) -> TCPRoutes attached there, oldest first."""
    from raygate.backends.gateway_api import attachment

    def build() -> dict[tuple[int, str], list[KubeObject]]:
        out: dict[tuple[int, str], list[KubeObject]] = {}
        for route in objects.of_kind("TCPRoute"):
            if not route.api_version.startswith(attachment.GROUP + "/"):
                continue
            parents = route.spec.get("parentRefs")
            for ref in parents if isinstance(parents, list) else []:
                if not isinstance(ref, dict):
                    continue
                parent = attachment.parent_object(objects, route, ref)
                if parent is None:
                    continue
                for l in attachment.listeners_of_parent(objects, parent):
                    if l.protocol not in ("TCP", "TLS"):
                        continue
                    if ref.get("sectionName") not in (None, l.name) or ref.get("port") not in (None, l.port):
                        continue
                    routes = out.setdefault((id(parent), l.name), [])
                    if route not in routes:
                        routes.append(route)
        for routes in out.values():
            routes.sort(key=lambda r: (str(r.metadata.get("creationTimestamp") or ""),
                                       r.namespace, r.name))
        return out
    return objects.memo("tcproute-attachments", build)


@rule(
    code="RG260",
    name="tcproute-listener-shared",
    layer="protocol",
    severity="error",
    kinds=("TCPRoute",),
    title="TCPRoute that shares a TCP listener with an older TCPRoute (only the oldest is attached)",
    rationale="""
        A TCP listener has nothing to route on but its port: TCPRoute has no hostnames and no
        matches. When several TCPRoutes attach to the same listener, every one reports
        Accepted, yet only the oldest receives connections. Two Ray clusters sharing a Ray
        Client listener means the younger cluster's clients silently connect to the older
        cluster, and submit work there.
    """,
    fix="Give each Ray cluster's TCPRoute its own TCP listener (its own port) through "
        "parentRefs[].sectionName, or its own Gateway.",
    references=(
        "https://github.com/kubernetes-sigs/gateway-api/blob/v1.6.1/conformance/tests/tcproute-multiple-routes-attachment.go",
        "https://gateway-api.sigs.k8s.io/guides/tcp/",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for (owner_id, listener), routes in _attachments(ctx.objects).items():
        if obj in routes and routes[0] is not obj:
            oldest = routes[0]
            i = next((i for i, r in enumerate(obj.spec.get("parentRefs") or []) if isinstance(r, dict)), 0)
            yield ctx.finding(obj, ("spec", "parentRefs", i),
                              f"listener {listener} already carries TCPRoute {oldest.namespace}/"
                              f"{oldest.name}, which is older: this route is Accepted but gets "
                              "no connections (only the oldest TCPRoute on a listener is attached)")
