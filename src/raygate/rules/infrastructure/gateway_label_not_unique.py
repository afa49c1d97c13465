"""RG352 gateway-label-not-unique: not exactly one Ready node carries the gateway label.

The Pinned Gateway hands users one address: the labelled node's. With no Ready node carrying
the label the controller cannot be (re)scheduled; with several, a restart may land the
controller on another node and its address moves with it (the guide's "worked yesterday, not
today"). Only Nodes as they are *now* can tell, hence a runtime rule.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG352",
    name="gateway-label-not-unique",
    layer="infrastructure",
    severity="error",
    kinds=("Deployment", "DaemonSet"),
    needs="runtime",
    title="Gateway node label not carried by exactly one Ready node",
    rationale="""
        A pinned ingress-nginx controller (nodeSelector on a label such as ingress-ready=true,
        usually with hostNetwork) is reachable at the labelled node's address. If no Ready
        node carries the label, a restarted controller stays Pending; if several do, the
        scheduler may place it on any of them and the address users were given stops working
        after the next restart. The label must identify exactly one Ready node.
    """,
    fix=("Keep the gateway label on exactly one Ready node: `kubectl label node <old> "
         "ingress-ready-` and `kubectl label node <gateway> ingress-ready=true`."),
    references=("https://kubernetes.io/docs/tasks/configure-pod-container/assign-pods-nodes/",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    controller = next((c for c in nginx.find_controllers(ctx.objects) if c.workload is obj), None)
    if controller is None:
        return
    state = rt.state_of(ctx.runtime, ctx.objects)
    if not state.saw("Node"):
        return
    selector = rt.gateway_selector(controller.pod_spec.get("nodeSelector"))
    if not selector:
        return
    label = rt.format_selector(selector)
    field = ("spec", "template", "spec", "nodeSelector")
    nodes = ctx.objects.nodes_matching(selector)
    ready = [n for n in nodes if rt.node_ready(n)]
    if not nodes:
        yield ctx.finding(
            obj, field,
            f"no node carries {label}, so {obj.kind} {obj.name} cannot schedule its controller; "
            "the gateway has no address.",
            symptom=f"controller pods Pending: 0/{len(ctx.objects.of_kind('Node'))} nodes are "
                    "available: node(s) didn't match Pod's node affinity/selector")
    elif not ready:
        yield ctx.finding(
            obj, field,
            f"every node with {label} is NotReady ({', '.join(rt.describe_node(n) for n in nodes)}), "
            "so the gateway is down.",
            symptom="connections to the gateway address time out")
    elif len(ready) > 1:
        yield ctx.finding(
            obj, field,
            f"{len(ready)} Ready nodes carry {label} ({', '.join(rt.describe_node(n) for n in ready)}): "
            "after a restart the controller may run on any of them, and the gateway address moves.",
            severity="warning",
            symptom="the gateway address works until the controller restarts, then changes")
