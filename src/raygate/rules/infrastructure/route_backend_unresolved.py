"""RG361 route-backend-unresolved: a route rule whose backend does not resolve.

A ``backendRefs`` entry that is not a core Service (``InvalidKind``) or names a Service (or a
port of it) that does not exist (``BackendNotFound``) gives the route ``ResolvedRefs: False``;
the rule's requests get HTTP 500 (HTTPRoute) or their connections are refused (TCPRoute), the
Gateway API spec's required behaviour for invalid backends (``apis/v1/httproute_types.go``
``BackendRefs``, conformance ``httproute-invalid-nonexistent-backendref``,
``httproute-invalid-backendref-unknown-kind``, ``tcproute-invalid-backendref-nonexistent``
@v1.6.1). A Service is judged missing only when the inputs hold other Services of its namespace
and no RayCluster there would create it (KubeRay creates the head Service at runtime).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG361",
    name="route-backend-unresolved",
    layer="infrastructure",
    severity="error",
    kinds=attachment.ROUTE_KINDS,
    title="Gateway API route whose backendRef is not a Service or does not exist",
    rationale="""
        A route's rule forwards to its backendRefs. When one names a kind that is not a Service
        (InvalidKind) or a Service or port that does not exist (BackendNotFound), the route
        reports ResolvedRefs=False and the implementation answers that share of requests with
        HTTP 500 (TCP connections are refused). For a Ray head that is usually a typo in the
        head Service name (KubeRay names it <cluster>-head-svc) or a port that is not on it.
    """,
    fix="Point the backendRef at the Ray head Service and one of its ports (kubectl get svc -l "
        "ray.io/node-type=head).",
    references=(
        "https://gateway-api.sigs.k8s.io/reference/spec/#httpbackendref",
        "https://github.com/kubernetes-sigs/gateway-api/tree/v1.6.1/conformance/tests",
    ),
    errors=("ResolvedRefs False BackendNotFound", "ResolvedRefs False InvalidKind"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    for v in attachment.backend_verdicts(ctx.objects, obj):
        if v.reason in ("BackendNotFound", "InvalidKind"):
            yield ctx.finding(obj, v.field, f"ResolvedRefs=False {v.reason}: {v.message}",
                              reason=v.reason)
