"""RG160 cross-namespace-reference-not-permitted: a reference into another namespace that no
ReferenceGrant allows.

Gateway API lets an object reference another namespace only when a ReferenceGrant *in the
target namespace* names the referring kind and namespace (``apis/v1beta1/referencegrant_types.go``
@v1.6.1: "All cross-namespace references in Gateway API (with the exception of cross-namespace
Gateway-route attachment) require a ReferenceGrant"). Without one the route's backendRef, the
listener's certificateRef or the Gateway's client/CA certificate stays unresolved
(``RefNotPermitted``): no traffic, or no TLS. It is the owner of the target namespace who
consents, which is why it is a security control and not a formality. Conformance:
``httproute-invalid-cross-namespace-backend-ref``, ``httproute-invalid-reference-grant``,
``gateway-secret-missing-reference-grant``, ``listenerset-reference-grant``,
``tcproute-reference-grant`` @v1.6.1.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG160",
    name="cross-namespace-reference-not-permitted",
    layer="security",
    severity="error",
    kinds=attachment.ROUTE_KINDS + ("Gateway",) + attachment.LISTENER_SET_KINDS,
    title="Cross-namespace Gateway API reference without a ReferenceGrant that permits it",
    rationale="""
        A route in one namespace may send traffic to a Service in another, and a Gateway may
        read a certificate Secret in another, only when a ReferenceGrant in the target
        namespace lets that kind from that namespace do so. Without it the reference is
        refused (RefNotPermitted): the Ray route gets no backend (HTTP 500) or the HTTPS
        listener no certificate. Grants are matched on group, kind and namespace of the
        referrer and group, kind and optional name of the target; a grant in the wrong
        namespace or naming the wrong kind does nothing.
    """,
    fix="Create a ReferenceGrant in the target namespace whose from names the referring kind "
        "and namespace and whose to names the target kind (and name).",
    references=(
        "https://gateway-api.sigs.k8s.io/api-types/referencegrant/",
        "https://github.com/kubernetes-sigs/gateway-api/tree/v1.6.1/conformance/tests",
    ),
    errors=("ResolvedRefs False RefNotPermitted",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith((attachment.GROUP + "/", "gateway.networking.x-k8s.io/")):
        return
    verdicts = (attachment.backend_verdicts(ctx.objects, obj) if obj.kind in attachment.ROUTE_KINDS
                else attachment.listener_verdicts(ctx.objects, obj))
    for v in verdicts:
        if v.reason == "RefNotPermitted":
            yield ctx.finding(obj, v.field, f"ResolvedRefs=False RefNotPermitted: {v.message}",
                              reason=v.reason)
