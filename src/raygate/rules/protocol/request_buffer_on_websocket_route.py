"""RG264 request-buffer-on-websocket-route: an Envoy Gateway request buffer on the Dashboard's
route turns off the WebSocket that ``ray job logs --follow`` needs.

Envoy Gateway's ``BackendTrafficPolicy.spec.requestBuffer`` installs Envoy's buffer filter,
which "does not work with streaming or upgrade-based traffic such as gRPC streaming and
WebSocket" (``api/v1alpha1/backendtrafficpolicy_types.go`` @v1.9.0); its CRD even refuses
``requestBuffer`` together with ``httpUpgrade`` ("requestBuffer cannot be used together with
httpUpgrade"). Ray's job log tail is a WebSocket on the Dashboard
(``ray/dashboard/modules/job/sdk.py``: ``ws_connect(.../api/jobs/<id>/logs/tail)``).
ingress2gateway's Envoy Gateway emitter writes this buffer for ``proxy-body-size`` (facts
``gateway_api_2026.md`` §3). Envoy does not cap request bodies without it, so uploads need no
buffer.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG264",
    name="request-buffer-on-websocket-route",
    layer="protocol",
    severity="error",
    kinds=("BackendTrafficPolicy",),
    title="Envoy Gateway request buffer on a route that carries the Dashboard's WebSocket log tail",
    rationale="""
        The request buffer collects the whole request body before forwarding it, which Envoy
        cannot do for an upgraded connection: with a BackendTrafficPolicy requestBuffer on the
        Dashboard route, the WebSocket upgrade is off and ray job logs --follow (and the
        Dashboard's live logs) fail. Migration tools write this buffer to carry over
        ingress-nginx's proxy-body-size, but Envoy Gateway sets no body-size limit without it,
        so Ray's 100 MiB working_dir uploads pass anyway.
    """,
    fix="Remove spec.requestBuffer from the BackendTrafficPolicy (or target only routes without "
        "WebSockets); Envoy Gateway streams request bodies without a size cap.",
    references=("https://gateway.envoyproxy.io/latest/tasks/traffic/request-buffering/",
                "https://github.com/envoyproxy/gateway/blob/v1.9.0/api/v1alpha1/backendtrafficpolicy_types.go"),
    errors=("requestBuffer cannot be used together with httpUpgrade",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.rules.protocol import _gateway_routes

    if not obj.api_version.startswith("gateway.envoyproxy.io/") \
            or not isinstance(obj.spec.get("requestBuffer"), dict):
        return
    for route in ctx.objects.of_kind("HTTPRoute"):
        if obj not in _gateway_routes.policies_targeting(ctx.objects, "BackendTrafficPolicy", route):
            continue
        if _gateway_routes.ray_rule_indices(ctx.objects, route):
            yield ctx.finding(obj, ("spec", "requestBuffer"),
                              f"requestBuffer applies to HTTPRoute {route.namespace}/{route.name}, "
                              "which serves the Ray Dashboard: Envoy's buffer filter turns the "
                              "WebSocket upgrade off, so ray job logs --follow fails")
            return
