"""RG353 node-ip-drift: addresses users were given that no longer reach the gateway.

The guide's third root cause: hard-coded ``externalIPs`` became invalid when node IPs changed.
This compares, against the Nodes' *current* addresses, every address a user may hold: a
Service's ``spec.externalIPs`` ("these IP addresses must belong to the target node"; facts:
ingress_nginx.md §8), the ``status.loadBalancer`` a hostNetwork controller wrote on an Ingress,
and the address given with ``raygate doctor --expect-ip``.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG353",
    name="node-ip-drift",
    layer="infrastructure",
    severity="error",
    kinds=("Service", "Ingress", "Deployment", "DaemonSet"),
    needs="runtime",
    title="Gateway address that no current Node or controller answers on",
    rationale="""
        kube-proxy only accepts traffic for a Service externalIP on the node that owns that
        address, and a hostNetwork controller answers only on the address of the node it runs
        on. When a node is replaced, renumbered by DHCP or the controller moves, the address in
        the Service, in the Ingress status and in every user's bookmark silently points at
        nothing: connections time out although every object is valid.
    """,
    fix=("Stop handing out a node address that can change: pin the controller to one labelled "
         "node with hostNetwork (or use a LoadBalancer such as MetalLB) and give users that address."),
    references=("https://kubernetes.io/docs/concepts/services-networking/service/#external-ips",
                "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    state = rt.state_of(ctx.runtime, ctx.objects)
    if not state.saw("Node"):
        return
    owners, now = ctx.objects.memo("node-ip-drift-owners", lambda: _owners(ctx))
    if obj.kind == "Service":
        yield from _external_ips(obj, ctx, owners, now)
    elif obj.kind == "Ingress":
        yield from _ingress_status(obj, ctx, owners)
    else:
        yield from _expected(obj, ctx, state)


def _owners(ctx: Context) -> tuple[dict, str]:
    """Address -> Node, and a short description of the current nodes, once per object set
    (rebuilding them per Service was quadratic on large clusters)."""
    from raygate import runtime as rt

    nodes = ctx.objects.of_kind("Node")
    owners = {a: n for n in nodes for a in rt.node_addresses(n)}
    shown = ", ".join(rt.describe_node(n) for n in nodes[:5]) or "none"
    if len(nodes) > 5:
        shown += f" and {len(nodes) - 5} more"
    return owners, shown


def _external_ips(obj: KubeObject, ctx: Context, owners: dict, now: str) -> Iterable[Finding]:
    from raygate import runtime as rt

    for i, ip in enumerate(rt.as_list(obj.spec.get("externalIPs"))):
        node = owners.get(str(ip))
        if node is None:
            yield ctx.finding(
                obj, ("spec", "externalIPs", i),
                f"externalIP {ip} of Service {obj.name} belongs to no Node any more "
                f"(nodes now: {now}), so nothing accepts traffic for it.",
                symptom=f"connections to {ip} time out")
        elif not rt.node_ready(node):
            yield ctx.finding(
                obj, ("spec", "externalIPs", i),
                f"externalIP {ip} of Service {obj.name} belongs to node {node.name}, which is NotReady.",
                severity="warning", symptom=f"connections to {ip} time out")


def _ingress_status(obj: KubeObject, ctx: Context, owners: dict) -> Iterable[Finding]:
    from raygate import runtime as rt

    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None or controller.workload is None or not controller.host_network:
        return  # a LoadBalancer address is not a node address; nothing to compare
    serving = rt.gateway_addresses(ctx.objects, controller)
    for i, lb in enumerate(rt.as_list(obj.get("status", "loadBalancer", "ingress"))):
        ip = lb.get("ip") if isinstance(lb, dict) else None
        if not ip or str(ip) in serving:
            continue
        where = ", ".join(f"{a} ({how})" for a, how in serving.items()) or "no ready node"
        yield ctx.finding(
            obj, ("status", "loadBalancer", "ingress", i, "ip"),
            f"Ingress {obj.name} still advertises {ip}, but its controller now answers on {where}.",
            severity="warning" if str(ip) in owners else "error",
            symptom=f"clients resolving the Ingress address reach {ip}, where no controller listens")


def _expected(obj: KubeObject, ctx: Context, state: rt.RuntimeState) -> Iterable[Finding]:
    from raygate import runtime as rt

    if not state.expect_ips:
        return
    controller = next((c for c in nginx.find_controllers(ctx.objects) if c.workload is obj), None)
    if controller is None:
        return
    serving = rt.gateway_addresses(ctx.objects, controller)
    for ip in state.expect_ips:
        if ip in serving:
            continue
        where = ", ".join(f"{a} ({how})" for a, how in serving.items()) or "no address at all"
        yield ctx.finding(
            obj, ("spec", "template", "spec"),
            f"users were given {ip} (--expect-ip), but controller {obj.kind} {obj.name} now "
            f"answers on {where}.",
            symptom=f"connections to {ip} are refused or time out")
