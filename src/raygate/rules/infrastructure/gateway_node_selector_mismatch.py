"""RG305 gateway-node-selector-mismatch: the gateway's node selection, checked against real Nodes.

The Pinned Gateway works in two steps that live in different places: label one node
(``kubectl label node <node> ingress-ready=true``, seed guide step 1) and select that label in the
controller (step 3). When the Nodes are in the inputs (a ``kubectl get nodes -o yaml`` dump, a
snapshot, a live cluster) the two can be compared:

* no Node fits: the controller pods stay Pending with the scheduler's
  ``0/<n> nodes are available: <n> node(s) didn't match Pod's node affinity/selector.`` and
  nothing answers on the gateway IP (a DaemonSet simply runs zero pods);
* several Nodes fit a selector meant to pin: the entry IP depends on where the scheduler puts
  the pod, the guide's IP drift again (facts: ingress_nginx.md §8; seed guide steps 1 and 3).
"""

from __future__ import annotations

from typing import Any, Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

POD_SPEC = ("spec", "template", "spec")


@rule(
    code="RG305",
    name="gateway-node-selector-mismatch",
    layer="infrastructure",
    severity="error",
    kinds=("Deployment", "DaemonSet"),
    title="Gateway node selector matches no Node, or more than the one it should pin",
    rationale="""
        A pinned gateway depends on a node label and a selector agreeing. If the label was
        never applied, was lost when the node was rebuilt, or the selector has a typo
        (`ingress-ready: "yes"` against the label `true`), no node fits and the controller
        pods stay Pending: the gateway IP answers nothing, though the Ingress, tcp-services
        and RayCluster objects all look correct. If the label is on several nodes, a
        single-replica hostNetwork controller may start on any of them and the gateway address
        changes with every reschedule. Checked only when Nodes are in the inputs.
    """,
    fix=("Put the label on exactly one gateway node (kubectl label node <node> ingress-ready=true) "
         "and select that label in the controller's nodeSelector."),
    references=(
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/",
        "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/#via-the-host-network",
    ),
    errors=(
        "0/<n> nodes are available: <n> node(s) didn't match Pod's node affinity/selector",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.rules.infrastructure import _placement as place

    if not ctx.objects.has_kind("Node") or not place.is_gateway(ctx.objects, obj):
        return
    p = place.placement(obj)
    fit = place.fit_for(ctx.objects, obj)
    field = _constraint_field(ctx, p)
    if not fit.eligible:
        consequence = ("the DaemonSet runs no pod at all" if p.daemon else
                       "the controller pods stay Pending")
        yield ctx.finding(
            obj, field,
            f"no Node in the inputs can run {obj.kind} {obj.name} ({p.describe()}): "
            f"{consequence} with \"{fit.unavailable_message()}\"",
            fix=_label_fix(ctx, p))
        return
    if p.daemon or not place.host_network(obj) or not p.pinned or len(fit.eligible) < 2:
        return
    replicas = obj.spec.get("replicas", 1)
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas >= len(fit.eligible):
        return  # one pod on every matching node: each is an entry, none moves
    names = ", ".join(sorted(n.name for n in fit.eligible))
    yield ctx.finding(
        obj, field,
        f"{p.describe()} matches {len(fit.eligible)} Nodes ({names}): the hostNetwork "
        "controller can start on any of them, so the gateway IP is not pinned and changes "
        "when the pod is rescheduled",
        severity="warning",
        fix=("Keep the selector's label on one node only (kubectl label node <node> "
             f"{_label_hint(p)}- on the others), or select it by kubernetes.io/hostname."))


def _constraint_field(ctx: Context, p: place.Placement) -> tuple[Any, ...]:
    """The most precise field: the first selector key no Node satisfies, else the block."""
    from raygate.rules.infrastructure import _placement as place

    if p.node_name:
        return POD_SPEC + ("nodeName",)
    if p.node_selector:
        nodes = ctx.objects.of_kind("Node")
        for key, value in p.node_selector.items():
            if not any(place.label_str(n.labels.get(key)) == value for n in nodes if key in n.labels):
                return POD_SPEC + ("nodeSelector", key)
        return POD_SPEC + ("nodeSelector", next(iter(p.pinning_selector or p.node_selector)))
    if p.required_terms is not None:
        return POD_SPEC + ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    return POD_SPEC


def _label_hint(p: place.Placement) -> str:
    """``key`` of the pinning label, for ``kubectl label node <node> key-`` (removal)."""
    from raygate.rules.infrastructure import _placement as place

    return next(iter(p.pinning_selector), "<label>")


def _label_fix(ctx: Context, p: place.Placement) -> str | None:
    from raygate.rules.infrastructure import _placement as place

    selector = p.pinning_selector
    if not selector:
        return None
    labels = " ".join(f"{k}={v}" for k, v in selector.items())
    nodes = ctx.objects.of_kind("Node")
    # A node that already carries one of the keys with another value is the likely target.
    near = [n.name for n in nodes if any(k in n.labels for k in selector)]
    target = near[0] if len(near) == 1 else "<gateway-node>"
    return (f"Label the gateway node to match the selector (kubectl label node {target} "
            f"{labels} --overwrite), or change the nodeSelector to a label that node has.")
