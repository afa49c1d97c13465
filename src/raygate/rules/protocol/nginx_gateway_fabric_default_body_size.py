"""RG267 nginx-gateway-fabric-default-body-size: the Dashboard route on NGINX Gateway Fabric keeps
nginx's 1 MiB request body limit.

NGINX Gateway Fabric sets no ``client_max_body_size`` of its own, so nginx's default of ``1m``
applies; a ``ClientSettingsPolicy`` ``body.maxSize`` on the route or its Gateway changes it
(``apis/v1alpha1/clientsettingspolicy_types.go`` @v2.6.7; facts ``gateway_api_metallb.md``
§4.3). ``ray job submit --working-dir`` uploads the directory as a zip to
``/api/packages/...`` on the Dashboard (``ray/dashboard/modules/job/sdk.py``), and the
Dashboard itself accepts up to 100 MiB: anything over 1 MiB gets ``413 Request Entity Too
Large`` at the gateway.
"""

from __future__ import annotations

from typing import Iterable

from raygate import kuberay
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

RAY_UPLOAD = kuberay.DASHBOARD_UPLOAD_MAX_BYTES


@rule(
    code="RG267",
    name="nginx-gateway-fabric-default-body-size",
    layer="protocol",
    severity="warning",
    kinds=("HTTPRoute",),
    title="Dashboard HTTPRoute on NGINX Gateway Fabric with a request body limit under Ray's 100 MiB uploads",
    rationale="""
        NGINX Gateway Fabric leaves nginx's client_max_body_size at its 1m default unless a
        ClientSettingsPolicy sets body.maxSize. Ray job submissions upload the working_dir as
        a zip through the Dashboard (up to 100 MiB), so any project over 1 MiB fails with 413
        Request Entity Too Large at the gateway, before Ray sees it.
    """,
    fix="Attach a ClientSettingsPolicy (gateway.nginx.org/v1alpha1) to the Dashboard route with "
        "body.maxSize: 100m.",
    references=("https://docs.nginx.com/nginx-gateway-fabric/traffic-management/client-settings/",),
    errors=("413 Request Entity Too Large",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import dataplane
    from raygate.backends.gateway_api import units
    from raygate.rules.protocol import _gateway_routes

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    dp = dataplane.served_by(ctx.objects, obj, "nginx-gateway-fabric")
    indices = _gateway_routes.ray_rule_indices(ctx.objects, obj)
    if dp is None or not indices:
        return
    limit = 1024 * 1024
    where = "nginx's default 1m"
    for policy in _gateway_routes.policies_targeting(ctx.objects, "ClientSettingsPolicy", obj):
        size = units.size_bytes((policy.spec.get("body") or {}).get("maxSize"))
        if size is not None:
            limit = size
            where = f"ClientSettingsPolicy {policy.name} body.maxSize"
            if policy.spec.get("targetRef", {}).get("kind") == obj.kind:
                break  # a route's policy overrides its Gateway's
    if limit == 0 or limit >= RAY_UPLOAD:
        return
    yield ctx.finding(obj, ("spec", "rules", indices[0]),
                      f"the Ray Dashboard is served by NGINX Gateway Fabric ({dp.reason}) with "
                      f"a request body limit of {limit} bytes ({where}): working_dir uploads "
                      "over it get 413 Request Entity Too Large",
                      assumption=("assuming the class is NGINX Gateway Fabric's default name"
                                  if dp.assumed else None))
