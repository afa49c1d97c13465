"""RG302 host-network-controller-unpinned: a hostNetwork gateway that may run on any node.

With ``hostNetwork: true`` the gateway's address is the IP of whichever node runs the
controller pod. Without a nodeSelector (beyond ``kubernetes.io/os``, which the upstream
manifests already set and which matches every Linux node) or required node affinity, the
scheduler may put it anywhere, and after a reschedule clients are pointed at a node that no
longer listens: the seed guide's "it worked yesterday" symptom, which step 1 and step 3 of its
Pinned Gateway (label one node, select it) exist to prevent. A DaemonSet does not move, but
unpinned it opens the Ray ports of tcp-services (GCS 6379, Client 10001) on every node, and the
ingress-nginx docs warn that hostNetwork exposes every host daemon to the controller
(facts: ingress_nginx.md §8; seed guide steps 1 and 3).
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

FIELD = ("spec", "template", "spec", "hostNetwork")


@rule(
    code="RG302",
    name="host-network-controller-unpinned",
    layer="infrastructure",
    severity="error",
    kinds=("Deployment", "DaemonSet"),
    title="hostNetwork gateway controller not pinned to a node",
    rationale="""
        A controller with `hostNetwork: true` listens on the IP of the node it runs on, so that
        node's IP *is* the gateway address users put in `http://<ip>/ray/` and
        `ray://<ip>:10001`. Without a `nodeSelector` (other than `kubernetes.io/os`, which
        every Linux node matches) or a required node affinity the scheduler may place the pod
        on any node, and a drain, reboot or rollout moves the entry point to a different IP
        while every object still looks healthy. Preferred affinity is only a hint and does not
        stop the move. Label one gateway node (`kubectl label node <node> ingress-ready=true`)
        and select it, as the Pinned Gateway does. An unpinned DaemonSet stays put but binds
        the Ray TCP ports from tcp-services on every node of the cluster.
    """,
    fix=("Label the gateway node (kubectl label node <node> ingress-ready=true) and add "
         "nodeSelector: {ingress-ready: \"true\"} to the controller's pod template."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/#via-the-host-network",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.rules.infrastructure import _placement as place

    if not place.host_network(obj) or not place.is_gateway(ctx.objects, obj):
        return
    p = place.placement(obj)
    if p.pinned:
        return
    scope = (f"nodeSelector only selects {', '.join(sorted(p.node_selector))}"
             if p.node_selector else "no nodeSelector")
    if p.has_preferred_affinity:
        scope += " and only preferred (not required) node affinity"
    elif p.required_terms is None:
        scope += " and no required node affinity"
    if p.daemon:
        yield ctx.finding(
            obj, FIELD,
            f"hostNetwork DaemonSet {obj.name} has {scope}: it runs on every node, so every "
            "node's IP becomes a gateway address and the tcp-services ports (e.g. Ray Client "
            "10001, GCS 6379) are bound on all of them",
            severity="warning")
        return
    yield ctx.finding(
        obj, FIELD,
        f"hostNetwork controller {obj.name} has {scope}: the scheduler may start it on any "
        "node, so the gateway IP changes whenever the pod is rescheduled (clients then see "
        "connection refused or timeouts on the old IP)")
