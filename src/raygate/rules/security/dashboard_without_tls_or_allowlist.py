"""RG106 dashboard-without-tls-or-allowlist: the Ray Dashboard served in clear text to anyone.

The Ray docs say not to expose the Dashboard publicly without authentication (facts:
kuberay_ray.md §7; KubeRay's sample: "Nginx must handle authentication/access control"). Two
cheap gateway-side controls are visible in a manifest: TLS (``spec.tls`` covering the host), so
Ray's bearer token and browser cookie are not sent in plaintext (§4.1 security note, §4.2 cookie
``Secure`` only over https), and a source allowlist (``allowlist-source-range`` or its alias
``whitelist-source-range``; facts: ingress_nginx.md §1.1). An Ingress to the Dashboard with
neither is reported as information: it may be a deliberate lab setup, and RG104 already raises
the error when the cluster has no token auth. The KubeRay-built Ingress
(``headGroupSpec.enableIngress``) copies the RayCluster's annotations and takes TLS from
``headGroupSpec.ingressOptions.tls`` (kuberay_ray.md §3).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate import kuberay
from raygate.findings import Finding
from raygate.model import protections
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.security import _annotation_values as values
from raygate.rules.security import _ray_reach as reach

ALLOWLIST_KEYS = ("allowlist-source-range", "whitelist-source-range")


def _has_allowlist(annotations: Mapping[Any, Any], prefix: str) -> bool:
    return any(isinstance(annotations.get(prefix + k), str) and annotations[prefix + k].strip()
               for k in ALLOWLIST_KEYS)


@rule(
    code="RG106",
    name="dashboard-without-tls-or-allowlist",
    layer="security",
    severity="info",
    kinds=("Ingress", "RayCluster"),
    title="Ray Dashboard Ingress without TLS and without a source allowlist",
    rationale="""
        The Ray Dashboard and its Jobs API give read and write access to the cluster; Ray's docs
        ask not to expose it publicly without authentication. When the cluster uses token auth,
        the bearer token (and the `ray-authentication-token` browser cookie, which Ray marks
        `Secure` only over https) travels in every request, so plain HTTP leaks it to anyone on
        the path. A source allowlist (`allowlist-source-range`, alias `whitelist-source-range`)
        limits who can reach the Dashboard at all. An Ingress with neither is usually a lab
        setup that outlived the lab; this is information, not an error, because RG104 already
        reports clusters without token auth.
    """,
    fix=("Serve the Dashboard host with spec.tls and restrict it with "
         "nginx.ingress.kubernetes.io/allowlist-source-range to the networks that need it."),
    references=(
        "https://docs.ray.io/en/latest/ray-security/token-auth.html",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#allowlist-source-range",
        "https://kubernetes.github.io/ingress-nginx/user-guide/tls/",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if obj.kind == "RayCluster":
        yield from _check_built_in(obj, ctx)
        return
    if not nginx.is_ingress(obj):
        return
    controller = dataplane.controller_of(ctx.objects, obj)
    # The allowlist annotation is ingress-nginx's; on another controller only TLS is judged.
    if controller is not None and _has_allowlist(obj.annotations,
                                                 values.annotation_prefix(controller)):
        return
    tls = obj.spec.get("tls")
    for e in reach.exposures_of(ctx.objects, obj):
        if reach.port_role(e, reach.ray_behind(ctx.objects, e)) != "dashboard":
            continue
        if protections.tls_covers(tls, e.host if isinstance(e.host, str) else None):
            continue
        if controller is None:
            # Another controller: TLS is judged, its own source restriction is its knob.
            plane = dataplane.for_ingress(ctx.objects, obj)
            knob = plane.profile.auth_knob if plane.profile is not None else None
            yield ctx.finding(
                obj, e.field,
                f"{reach.how(e)} serves the Ray Dashboard over plain HTTP ({plane.describe()}): "
                "no spec.tls for this host, so Ray tokens and cookies cross the network in "
                "clear text",
                fix="Serve the Dashboard host with spec.tls"
                    + (f" and restrict who reaches it ({knob})." if knob else "."))
            return
        yield ctx.finding(
            obj, e.field,
            f"{reach.how(e)} serves the Ray Dashboard over plain HTTP to any source address: no "
            "spec.tls for this host and no allowlist-source-range, so Ray tokens and cookies "
            "cross the network in clear text and anyone who can reach the gateway can try them")
        return  # one finding per Ingress is enough to act on


def _check_built_in(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not kuberay.is_ray(obj):
        return
    for cr in reach.cr_exposures(ctx.objects, obj):
        if "dashboard" not in cr.roles or cr.field[-1] != "enableIngress":
            continue
        head = kuberay.cluster_spec(obj).get("headGroupSpec") or {}
        options = head.get("ingressOptions") if isinstance(head, dict) else None
        tls = options.get("tls") if isinstance(options, dict) else None
        if (isinstance(tls, list) and tls) or _has_allowlist(obj.annotations, nginx.PREFIX):
            continue
        yield ctx.finding(
            obj, cr.field,
            f"{cr.description[:1].upper()}{cr.description[1:]} serves the Ray Dashboard over "
            "plain HTTP to any source address: "
            "no headGroupSpec.ingressOptions.tls and no allowlist-source-range annotation on the "
            "RayCluster (KubeRay copies its annotations onto the Ingress)",
            fix=("Add headGroupSpec.ingressOptions.tls (KubeRay >= 1.7) and an "
                 "nginx.ingress.kubernetes.io/allowlist-source-range annotation on the "
                 "RayCluster."))
