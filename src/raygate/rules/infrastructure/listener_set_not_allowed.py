"""RG364 listener-set-not-allowed: a ListenerSet its Gateway does not admit.

A Gateway accepts ListenerSets only from the namespaces ``spec.allowedListeners.namespaces``
admits, and the default is ``from: None`` (``apis/v1/gateway_types.go`` @v1.6.1): a ListenerSet
that adds Ray's listeners to a shared Gateway that did not opt in gets ``Accepted: False`` with
``NotAllowed`` and none of its listeners exist (conformance ``listenerset-default-not-allowed``,
``listenerset-allowed-namespace-{none,same,selector}``).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG364",
    name="listener-set-not-allowed",
    layer="infrastructure",
    severity="error",
    kinds=attachment.LISTENER_SET_KINDS,
    title="ListenerSet attached to a Gateway whose allowedListeners do not admit its namespace",
    rationale="""
        ListenerSets let a team add listeners (Ray Client's TCP port) to a shared Gateway
        without editing it, but only where the Gateway's owner opted in through
        spec.allowedListeners; the default admits none. Otherwise the ListenerSet is
        NotAllowed, its listeners are never programmed and the routes attached to them get
        no traffic.
    """,
    fix="Ask the Gateway's owner to set spec.allowedListeners.namespaces (from: Same, Selector "
        "or All) to admit this namespace, or move the ListenerSet into an admitted namespace.",
    references=("https://gateway-api.sigs.k8s.io/geps/gep-1713/",),
    errors=("Accepted False NotAllowed",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith((attachment.GROUP + "/", "gateway.networking.x-k8s.io/")):
        return
    for v in attachment.listener_verdicts(ctx.objects, obj):
        if v.reason == "NotAllowed":
            yield ctx.finding(obj, v.field, f"Accepted=False NotAllowed: {v.message}",
                              reason=v.reason)
