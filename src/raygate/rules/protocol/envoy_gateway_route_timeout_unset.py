"""RG265 envoy-gateway-route-timeout-unset: the Dashboard route on Envoy Gateway keeps Envoy's
15-second route timeout.

Envoy Gateway applies ``timeouts.request`` of an HTTPRoute rule, else a BackendTrafficPolicy's
``timeout.http.requestTimeout``, else Envoy's default route timeout of 15 s
(``internal/xds/translator/route.go`` @v1.9.0; its docs: "The default request timeout is set to
15 seconds in Envoy Proxy"). Ray's Dashboard has requests that outlive that: uploads of a large
``working_dir``, job submissions that wait, and the log tail of ``ray job logs --follow``.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG265",
    name="envoy-gateway-route-timeout-unset",
    layer="protocol",
    severity="warning",
    kinds=("HTTPRoute",),
    title="Dashboard HTTPRoute on Envoy Gateway without a request timeout (Envoy's 15 s applies)",
    rationale="""
        Without an explicit timeout Envoy Gateway leaves Envoy's 15-second route timeout in
        place: a working_dir upload over a slow link, a long Dashboard API call or a
        ray job logs --follow session is cut with 504 upstream request timeout after 15
        seconds. Setting timeouts.request on the rule (0s disables it) or a
        BackendTrafficPolicy timeout.http.requestTimeout lifts it.
    """,
    fix="Set timeouts: {request: 0s} on the Dashboard rule (or a BackendTrafficPolicy "
        "timeout.http.requestTimeout targeting the route).",
    references=("https://gateway.envoyproxy.io/latest/tasks/traffic/http-timeouts/",
                "https://github.com/envoyproxy/gateway/blob/v1.9.0/internal/xds/translator/route.go"),
    errors=("upstream request timeout",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import dataplane
    from raygate.rules.protocol import _gateway_routes

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    dp = dataplane.served_by(ctx.objects, obj, "envoy-gateway")
    if dp is None:
        return
    for policy in _gateway_routes.policies_targeting(ctx.objects, "BackendTrafficPolicy", obj):
        http = ((policy.spec.get("timeout") or {}).get("http") or {})
        if http.get("requestTimeout"):
            return
    rules = obj.spec.get("rules") or []
    for i in _gateway_routes.ray_rule_indices(ctx.objects, obj):
        if not (rules[i].get("timeouts") or {}).get("request"):
            yield ctx.finding(obj, ("spec", "rules", i),
                              f"rule {i} reaches the Ray Dashboard through Envoy Gateway "
                              f"({dp.reason}) with no request timeout: Envoy's default 15 s "
                              "route timeout cuts uploads, long API calls and the job log tail "
                              "(504 upstream request timeout)",
                              assumption=("assuming the class is Envoy Gateway's default name"
                                          if dp.assumed else None))
