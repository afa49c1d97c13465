"""RG251 tcp-service-without-endpoints: a tcp-services entry whose Service port has no ready endpoint.

The guide's second root cause as the controller logs it: ``Service "<ns/svc>" does not have any
active Endpoint for TCP port <port>``. ingress-nginx reads endpoints from the Service's
EndpointSlices; with none ready it drops the entry and renders no ``listen`` for the port at
all (facts: ingress_nginx.md §3.2), so Ray Client gets "connection refused" on 10001 even though
the ConfigMap looks right. This rule says *why* there is no endpoint: no head pod, head not
ready, a selector that matches nothing, or a port the Service or pod does not have.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

LOG_LINE = 'Service "{ns}/{svc}" does not have any active Endpoint for TCP port {port}'


@rule(
    code="RG251",
    name="tcp-service-without-endpoints",
    layer="protocol",
    severity="error",
    kinds=("ConfigMap",),
    needs="runtime",
    title="tcp-services entry whose Service has no ready endpoint for the port",
    rationale="""
        ingress-nginx builds each stream (TCP) server from the EndpointSlices of the Service a
        tcp-services entry names. When no endpoint is ready for that port it logs
        `Service "<ns/svc>" does not have any active Endpoint for TCP port <port>`, drops the
        entry and does not listen on the port at all, so Ray Client connections to 10001 are
        refused at the gateway. The usual causes after a restart are a head pod that is gone
        or not ready yet, a Service selector that no longer matches the head pod, or a port
        the head Service does not expose.
    """,
    fix=("Make the Service port have a ready endpoint: fix the head pod, the selector or the "
         "port the entry names (the finding says which)."),
    references=("https://kubernetes.github.io/ingress-nginx/user-guide/exposing-tcp-udp-services/",),
    errors=("Service <svc> does not have any active Endpoint for TCP port <port>",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    if obj not in nginx.tcp_services_configmaps(ctx.objects):
        return
    state = rt.state_of(ctx.runtime, ctx.objects)
    for entry in nginx.tcp_entries(obj):
        if entry.error or not entry.namespace or not entry.service or not entry.port:
            continue  # malformed entries are RG201's
        svc = ctx.objects.get("Service", entry.namespace, entry.service)
        if svc is None:
            continue  # an unknown Service is RG202's
        result = rt.check_endpoints(ctx.objects, state, svc, entry.port)
        if not result.known or result.ok or result.reason == rt.NO_SERVICE_PORT:
            continue  # a port the Service lacks is visible statically: RG202 reports it
        yield ctx.finding(
            obj, entry.field,
            f'tcp-services port {entry.key} -> {entry.value} has no ready endpoint, so the '
            f"controller drops it and nothing listens on {entry.key}. Cause ({result.reason}): "
            f"{result.detail.rstrip('.')}.",
            fix=rt.REASON_FIX.get(result.reason or "", None),
            symptom=LOG_LINE.format(ns=entry.namespace, svc=entry.service, port=entry.port),
            reason=result.reason, service=f"{svc.namespace}/{svc.name}")
