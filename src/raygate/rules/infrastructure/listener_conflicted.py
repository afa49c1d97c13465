"""RG362 listener-conflicted: a listener that loses a port to another listener.

A Gateway and the ListenerSets attached to it share one set of ports. Two listeners on the same
port must agree on the protocol (``ProtocolConflict`` otherwise; TCP and UDP may share) and, for
the same protocol, differ in hostname (``HostnameConflict``). The Gateway's own listeners take
precedence, then ListenerSets by age and namespace/name; the loser is ``Conflicted`` and not
programmed (``apis/v1/listenerset_types.go``, conformance ``listenerset-protocol-conflict``,
``listenerset-hostname-conflict`` @v1.6.1). A ListenerSet for Ray Client that asks for a port the
shared Gateway already serves over HTTP is the typical case.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG362",
    name="listener-conflicted",
    layer="infrastructure",
    severity="error",
    kinds=("Gateway",) + attachment.LISTENER_SET_KINDS,
    title="Gateway or ListenerSet listener that conflicts with another on the same port",
    rationale="""
        Listeners of a Gateway and of its ListenerSets are merged. On one port they must share
        the protocol, and listeners of the same protocol need distinct hostnames; otherwise the
        later one (ListenerSet after Gateway, younger after older) is Conflicted and never
        programmed, and routes attached to it get no traffic. A TCP listener for Ray Client on
        a port the Gateway serves over HTTP is refused this way.
    """,
    fix="Give the listener a port no other listener of the Gateway uses (or a distinct hostname "
        "for the same protocol).",
    references=(
        "https://gateway-api.sigs.k8s.io/geps/gep-1713/",
        "https://github.com/kubernetes-sigs/gateway-api/blob/v1.6.1/conformance/tests/listenerset-protocol-conflict.go",
    ),
    errors=("Conflicted True ProtocolConflict", "Conflicted True HostnameConflict"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith((attachment.GROUP + "/", "gateway.networking.x-k8s.io/")):
        return
    for v in attachment.listener_verdicts(ctx.objects, obj):
        if v.condition == "Conflicted":
            yield ctx.finding(obj, v.field, f"Conflicted=True {v.reason}: {v.message}",
                              reason=v.reason)
