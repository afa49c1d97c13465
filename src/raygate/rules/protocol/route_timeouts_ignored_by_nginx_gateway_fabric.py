"""RG266 route-timeouts-ignored-by-nginx-gateway-fabric: HTTPRoute ``timeouts`` on NGINX Gateway
Fabric are ignored.

NGINX Gateway Fabric does not support ``rules[].timeouts``: ``checkForUnsupportedHTTPFields`` in
``internal/controller/state/graph/httproute.go`` (v2.6.7) reports the field as unsupported (the
route gets a condition with reason ``UnsupportedField``) and the proxy keeps nginx's 60 s
``proxy_read_timeout``. Its ``ProxySettingsPolicy`` ``timeout.read``/``send`` is the knob (facts
``gateway_api_2026.md`` §2, ``gateway_api_metallb.md`` §4.3). A Ray route whose author believes
``request: 0s`` keeps the log tail open gets it cut after a minute of silence.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG266",
    name="route-timeouts-ignored-by-nginx-gateway-fabric",
    layer="protocol",
    severity="warning",
    kinds=("HTTPRoute",),
    title="HTTPRoute timeouts on NGINX Gateway Fabric, which ignores them (UnsupportedField)",
    rationale="""
        NGINX Gateway Fabric reports HTTPRoute rules[].timeouts as an unsupported field and
        ignores it; nginx's 60-second proxy read and send timeouts stay. For a Ray route that
        means the job log tail and long Dashboard calls are cut after a minute of silence even
        though the route asks for more. Only a ProxySettingsPolicy changes them.
    """,
    fix="Remove rules[].timeouts and attach a ProxySettingsPolicy (gateway.nginx.org/v1alpha1) "
        "with timeout.read and timeout.send (e.g. 3600s) to the route.",
    references=("https://github.com/nginx/nginx-gateway-fabric/blob/v2.6.7/internal/controller/state/graph/httproute.go",
                "https://docs.nginx.com/nginx-gateway-fabric/overview/gateway-api-compatibility/"),
    errors=("UnsupportedField",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import dataplane
    from raygate.rules.protocol import _gateway_routes

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    dp = dataplane.served_by(ctx.objects, obj, "nginx-gateway-fabric")
    if dp is None:
        return
    covered = bool(_gateway_routes.policies_targeting(ctx.objects, "ProxySettingsPolicy", obj))
    rules = obj.spec.get("rules")
    for i, r in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(r, dict) and r.get("timeouts"):
            yield ctx.finding(obj, ("spec", "rules", i, "timeouts"),
                              f"NGINX Gateway Fabric ({dp.reason}) ignores rules[{i}].timeouts "
                              "and reports it as UnsupportedField; nginx's 60s proxy timeouts "
                              "apply" + (" unless the ProxySettingsPolicy on the route sets "
                                         "them" if covered else
                                         " and no ProxySettingsPolicy targets this route"),
                              severity="info" if covered else None,
                              assumption=("assuming the class is NGINX Gateway Fabric's default "
                                          "name" if dp.assumed else None))
