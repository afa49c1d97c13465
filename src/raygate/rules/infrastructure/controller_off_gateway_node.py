"""RG351 controller-off-gateway-node: a controller pod that is not on the labelled gateway node.

The Pinned Gateway works only while the controller really runs on the node users were given
(the guide's step 1 and 3: ``ingress-ready=true`` + ``nodeSelector`` + ``hostNetwork``). A
nodeSelector is checked only when a pod is scheduled: if the label is later moved or removed,
or the node is replaced, the running pod stays where it is, and a pod that is rescheduled
while no node carries the label stays Pending. Either way the gateway address stops answering.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject, matches_selector
from raygate.rules import Context, rule


@rule(
    code="RG351",
    name="controller-off-gateway-node",
    layer="infrastructure",
    severity="error",
    kinds=("Pod",),
    needs="runtime",
    title="ingress-nginx controller pod not running on the labelled gateway node",
    rationale="""
        A nodeSelector pins a pod only at scheduling time ("IgnoredDuringExecution"). When the
        gateway label moves to another node, is removed, or the labelled node disappears, an
        already running controller pod keeps serving from the old node, and a restarted one
        stays Pending with `0/N nodes are available: ... didn't match Pod's node
        affinity/selector`. With hostNetwork the gateway's address is the node's address, so
        clients that were given the gateway node's IP see connection refused or timeouts.
    """,
    fix=("Label exactly one Ready node as the gateway (`kubectl label node <node> "
         "ingress-ready=true`) and restart the controller so it is scheduled there."),
    references=("https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector",
                "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/#via-the-host-network"),
    errors=("didn't match Pod's node affinity/selector",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    if not rt.is_controller_pod(obj):
        return
    state = rt.state_of(ctx.runtime, ctx.objects)
    if not state.saw("Node"):
        return
    workload = rt.workload_of_pod(ctx.objects, obj)
    intended = workload.get("spec", "template", "spec", "nodeSelector") if workload else None
    selector = rt.gateway_selector(intended if intended is not None else obj.spec.get("nodeSelector"))
    if not selector:
        return  # not pinned: RG302 speaks about that
    label = rt.format_selector(selector)
    owner = f"{workload.kind} {workload.name}" if workload else "the controller"
    labelled = [n for n in ctx.objects.nodes_matching(selector)]
    now = ", ".join(rt.describe_node(n) for n in labelled) or "none"
    node_name = obj.spec.get("nodeName")
    if not node_name:
        scheduled = rt.condition(obj, "PodScheduled")
        message = (scheduled or {}).get("message") or "the pod is Pending and not scheduled"
        yield ctx.finding(
            obj, ("spec", "nodeSelector"),
            f"controller pod {obj.name} of {owner} cannot be scheduled: it needs a node with "
            f"{label}; nodes with that label now: {now}.",
            symptom=str(message))
        return
    node = ctx.objects.get("Node", "", str(node_name))
    if node is None:
        yield ctx.finding(
            obj, ("spec", "nodeName"),
            f"controller pod {obj.name} is bound to node {node_name}, which no longer exists; "
            f"nodes with {label} now: {now}.",
            symptom=f"the gateway address of {node_name} does not answer")
    elif not matches_selector(node.labels, selector):
        yield ctx.finding(
            obj, ("spec", "nodeName"),
            f"controller pod {obj.name} runs on {rt.describe_node(node)}, which no longer carries "
            f"{label} (a nodeSelector is only checked at scheduling); the gateway node is now: {now}.",
            symptom=f"clients of the gateway node reach no controller; it answers on "
                    f"{', '.join(rt.node_addresses(node)) or node.name} instead")
    elif not rt.node_ready(node):
        yield ctx.finding(
            obj, ("spec", "nodeName"),
            f"controller pod {obj.name} is on gateway node {rt.describe_node(node)}, which is "
            "NotReady, so the gateway is down until the node recovers.",
            symptom=f"connections to {', '.join(rt.node_addresses(node)) or node.name} time out")
