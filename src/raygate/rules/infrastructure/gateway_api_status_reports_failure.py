"""RG367 gateway-api-status-reports-failure: the implementation itself says a Gateway, listener,
ListenerSet or route does not work.

Gateway API controllers write their verdict into ``status``: ``status.parents[].conditions`` on
routes, ``status.conditions`` and ``status.listeners[].conditions`` on Gateways and ListenerSets
(``apis/v1/shared_types.go``, ``gateway_types.go`` @v1.6.1). ``Accepted``, ``ResolvedRefs`` or
``Programmed`` ``False`` means traffic does not flow as written; an implementation's own
reasons such as NGINX Gateway Fabric's ``UnsupportedField`` (HTTPRoute ``timeouts``, ``retry``:
``internal/controller/state/graph/httproute.go`` @v2.6.7) mean part of the route is ignored. In a
snapshot or a live cluster (``raygate doctor``) this is the ground truth the static rules
(RG360-RG366) predict; the finding quotes the controller's own message.
"""

from __future__ import annotations

from typing import Any, Iterable

from raygate.backends.gateway_api import attachment
from raygate.findings import Finding
from raygate.objects import FieldPath, KubeObject
from raygate.rules import Context, rule

_FAILING = ("Accepted", "ResolvedRefs", "Programmed")
_IGNORED_PARTS = ("UnsupportedField", "UnsupportedValue")


def _conditions(obj: KubeObject) -> Iterable[tuple[FieldPath, str, dict[str, Any]]]:
    """(field, where, condition) for every condition in the object's status."""
    status = obj.status
    for i, c in enumerate(status.get("conditions") or []):
        if isinstance(c, dict):
            yield ("status", "conditions", i), obj.kind, c
    for i, l in enumerate(status.get("listeners") or []):
        if isinstance(l, dict):
            for j, c in enumerate(l.get("conditions") or []):
                if isinstance(c, dict):
                    yield (("status", "listeners", i, "conditions", j),
                           f"listener {l.get('name')}", c)
    for i, p in enumerate(status.get("parents") or []):
        if isinstance(p, dict):
            ref = p.get("parentRef") or {}
            where = f"parent {ref.get('kind', 'Gateway')} {ref.get('namespace', obj.namespace)}/" \
                    f"{ref.get('name')}" + (f" ({p.get('controllerName')})"
                                            if p.get("controllerName") else "")
            for j, c in enumerate(p.get("conditions") or []):
                if isinstance(c, dict):
                    yield ("status", "parents", i, "conditions", j), where, c


@rule(
    code="RG367",
    name="gateway-api-status-reports-failure",
    layer="infrastructure",
    severity="error",
    kinds=attachment.ROUTE_KINDS + ("Gateway",) + attachment.LISTENER_SET_KINDS,
    title="Gateway API object whose status says it is not accepted, resolved or programmed",
    rationale="""
        The implementation records in status whether it accepted a route on each parent,
        resolved its references and programmed the data plane. A False condition is the
        controller saying, in its own words, that the Ray route or listener does not carry
        traffic as written; an UnsupportedField reason means part of the route (often
        timeouts) is silently ignored. kubectl apply never shows this: only status does.
    """,
    fix="Fix what the condition's message names (listener, reference, grant, field), then "
        "check status again (kubectl get <kind> <name> -o yaml).",
    references=("https://gateway-api.sigs.k8s.io/reference/spec/#routeparentstatus",
                "https://gateway-api.sigs.k8s.io/reference/spec/#listenerstatus"),
    errors=("NotAllowedByListeners", "NoMatchingParent", "RefNotPermitted", "BackendNotFound",
            "UnsupportedField"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not obj.api_version.startswith((attachment.GROUP + "/", "gateway.networking.x-k8s.io/")):
        return
    for field, where, c in _conditions(obj):
        ctype, status, reason = c.get("type"), str(c.get("status")), c.get("reason") or ""
        message = str(c.get("message") or "").strip()
        text = f"{where}: {ctype}={status} {reason}" + (f': "{message}"' if message else "")
        if ctype in _FAILING and status == "False":
            yield ctx.finding(obj, field, text, reason=reason)
        elif reason in _IGNORED_PARTS or (ctype == "Conflicted" and status == "True"):
            yield ctx.finding(obj, field, text + " (part of the object is ignored)"
                              if reason in _IGNORED_PARTS else text,
                              severity="warning" if reason in _IGNORED_PARTS else None,
                              reason=reason)
