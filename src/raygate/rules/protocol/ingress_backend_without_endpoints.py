"""RG252 ingress-backend-without-endpoints: an Ingress route to a Ray Service with no ready endpoint.

The HTTP twin of RG251. nginx answers ``503 Service Temporarily Unavailable`` and the
controller logs ``Service "<ns/svc>" does not have any active Endpoint.`` (facts:
ingress_nginx.md §3.2): the Dashboard, Jobs API or Serve route is configured correctly and
still dead, typically because the head pod was rescheduled and is not ready, or the route
names a head Service whose selector no longer matches the head pod.
"""

from __future__ import annotations

from typing import Iterable

from raygate.model import exposure
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

LOG_LINE = 'Service "{ns}/{svc}" does not have any active Endpoint.'


@rule(
    code="RG252",
    name="ingress-backend-without-endpoints",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    needs="runtime",
    title="Ingress backend to a Ray Service that has no ready endpoint",
    rationale="""
        ingress-nginx sends HTTP traffic straight to the endpoints of the backend Service
        (kube-proxy is bypassed). When the Ray head behind the Dashboard or Serve route has no
        ready endpoint for the backend port, every request gets `503 Service Temporarily
        Unavailable` and the controller logs `Service "<ns/svc>" does not have any active
        Endpoint.`. The Ingress itself is valid, so only the cluster's runtime state shows the
        cause: a missing or unready head pod, a selector mismatch or a missing port.
    """,
    fix=("Make the backend Service port have a ready endpoint: fix the head pod, the selector "
         "or the port the backend names (the finding says which)."),
    references=("https://kubernetes.github.io/ingress-nginx/troubleshooting/",),
    errors=("Service <svc> does not have any active Endpoint.",
            # controller.go serviceEndpoints / createUpstreams (controller-v1.15.1)
            'Error obtaining Endpoints for Service "<ns>/<svc>": <err>',
            "503 Service Temporarily Unavailable"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    state = rt.state_of(ctx.runtime, ctx.objects)
    seen: set[tuple[str, str]] = set()
    for e in exposure.ray_exposures(ctx.objects):
        if e.via is not obj or e.channel != "http" or e.service_obj is None or e.port is None:
            continue
        if (e.service, e.port) in seen:
            continue
        seen.add((e.service, e.port))
        result = rt.check_endpoints(ctx.objects, state, e.service_obj, e.port)
        if not result.known or result.ok:
            continue
        route = f"{e.host or '*'}{e.path or '/'}"
        yield ctx.finding(
            obj, e.field,
            f"route {route} -> {e.target} ({e.ray_port or 'port ' + e.port}) has no ready "
            f"endpoint, so nginx answers 503. Cause ({result.reason}): {result.detail.rstrip('.')}.",
            fix=rt.REASON_FIX.get(result.reason or "", None),
            symptom="HTTP 503 Service Temporarily Unavailable; controller log: "
                    + LOG_LINE.format(ns=e.namespace, svc=e.service),
            reason=result.reason, service=f"{e.namespace}/{e.service}")
