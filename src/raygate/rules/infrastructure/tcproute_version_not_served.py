"""RG365 tcproute-version-not-served: a TCPRoute in an apiVersion that the installed CRDs do not
serve, or that the implementation behind its Gateway does not reconcile.

TCPRoute is ``v1alpha2`` (experimental channel) up to Gateway API v1.5 and ``v1`` from v1.6,
whose standard CRD no longer serves ``v1alpha2`` (``config/crd/standard/
gateway.networking.k8s.io_tcproutes.yaml`` @v1.6.1: ``served: false``). Implementations differ:
Envoy Gateway v1.9 and Cilium 1.20 reconcile v1, NGINX Gateway Fabric 2.6.x, Istio <= 1.30,
Traefik and Kong v1alpha2 (facts ``gateway_api_2026.md`` §1-2, ``gateway_api_metallb.md`` §0).
A version the CRDs do not serve is refused at apply time. Served versions of one CRD are views
of the same objects, so what breaks a controller is CRDs that do not serve the version *it*
watches (NGINX Gateway Fabric 2.6 on the v1.6 standard CRDs): it sees no TCPRoute at all and
Ray Client connections are refused. Judged when the TCPRoute CRD is in the inputs, or, on a
live cluster, from the versions its API discovery says it serves.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG365",
    name="tcproute-version-not-served",
    layer="infrastructure",
    severity="error",
    kinds=("TCPRoute",),
    title="TCPRoute in an apiVersion the installed CRDs do not serve, or on an implementation that cannot watch the served ones",
    rationale="""
        Gateway API v1.6 moved TCPRoute to v1 and stopped serving v1alpha2 in the standard
        CRDs, while several implementations still watch only v1alpha2. The wrong version either
        fails at apply (no matches for kind TCPRoute in version ...) or is stored and ignored by
        the controller, so the Ray Client port stays closed with no error anywhere.
    """,
    fix="Write the TCPRoute in the version both the CRDs serve and the implementation reconciles "
        "(raygate render --gateway-api-version / --cluster-manifest picks it), or install "
        "matching CRDs.",
    references=("https://github.com/kubernetes-sigs/gateway-api/blob/v1.6.1/CHANGELOG/1.6-CHANGELOG.md",
                "https://gateway-api.sigs.k8s.io/guides/tcp/"),
    errors=('no matches for kind "TCPRoute" in version "gateway.networking.k8s.io/v1alpha2"',
            'no matches for kind "TCPRoute" in version "gateway.networking.k8s.io/v1"'),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import api
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import dataplane

    group, _, version = obj.api_version.rpartition("/")
    if group != attachment.GROUP:
        return
    crds = api.installed_crds(ctx.objects, getattr(ctx.runtime, "served", None))
    served = crds.tcp_route_served if crds is not None else ()
    if not served:
        return  # the installed versions are unknown: nothing to judge
    where = crds.where if crds is not None else ""
    if version not in served:
        yield ctx.finding(obj, ("apiVersion",),
                          f"{where} serves {', '.join(served)}"
                          f", not {version}: the API server refuses this object "
                          f'(no matches for kind "TCPRoute" in version "{obj.api_version}")')
        return
    # A CRD serving several versions converts between them (the same schema), so a controller
    # sees every TCPRoute through the version it watches, if the CRDs serve that version.
    for dp in dataplane.for_route(ctx.objects, obj):
        impl = dp.implementation
        if impl is None or impl.key == "generic" or set(impl.tcp_route_versions) & set(served):
            continue
        yield ctx.finding(obj, ("apiVersion",),
                          f"{impl.title} {impl.version_read} ({dp.reason}) watches TCPRoute "
                          f"{', '.join(impl.tcp_route_versions)}, which {where} does not "
                          f"serve ({', '.join(served)}): it sees no "
                          "TCPRoute at all, so this port stays closed",
                          severity="warning",
                          assumption=(f"assuming the class is {impl.title}'s default name"
                                      if dp.assumed else None))
        return
