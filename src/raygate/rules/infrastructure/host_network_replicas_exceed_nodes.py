"""RG304 host-network-replicas-exceed-nodes: more hostNetwork pods than nodes they can use.

A hostNetwork pod binds its ports (80, 443, the tcp-services ports) on the node itself, so only
one such pod fits on a node. Extra replicas stay Pending with the scheduler's
``0/<n> nodes are available: <n> node(s) didn't have free ports for the requested pod ports.``
(facts: ingress_nginx.md §8, which quotes the message and suggests a DaemonSet). A Pinned Gateway
selects exactly one node, so it can only run one replica; and because a RollingUpdate with
``maxUnavailable`` 0 (what the 25% default rounds to for one replica) starts the new pod before
stopping the old one, every rollout of such a Deployment waits forever for a free node. That is
the same arithmetic (replicas + surge > nodes), so it is reported here too.

Counted only when Nodes are in the inputs, except that a nodeSelector on
``kubernetes.io/hostname`` is one node by definition.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

HOSTNAME = "kubernetes.io/hostname"


@rule(
    code="RG304",
    name="host-network-replicas-exceed-nodes",
    layer="infrastructure",
    severity="warning",
    kinds=("Deployment",),
    title="hostNetwork Deployment wants more pods than it has nodes",
    rationale="""
        With `hostNetwork: true` every pod binds its ports directly on its node, so two
        replicas can never share one. When the nodeSelector (the Pinned Gateway's single
        labelled node) leaves fewer usable nodes than `spec.replicas`, the extra pods stay
        Pending forever and the Deployment never reports all replicas available. The same
        limit hits every rolling update: with `maxUnavailable: 0` the Deployment starts the
        new pod before stopping the old one, the new pod finds no node with free ports, and
        the rollout (an upgrade or a config change) hangs until its progress deadline while the
        old version keeps serving. Run one replica per pinned node and let the old pod go first
        (`maxUnavailable: 1` or `Recreate`), or use a DaemonSet over the labelled nodes.
    """,
    fix=("Set spec.replicas to at most the number of nodes the selector matches (1 for a pinned "
         "gateway) and set spec.strategy.rollingUpdate.maxUnavailable: 1, or run the controller "
         "as a DaemonSet on the labelled nodes."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/#via-the-host-network",
        "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment",
    ),
    errors=(
        "0/<n> nodes are available: <n> node(s) didn't have free ports for the requested pod ports",
        "bind() to 0.0.0.0:<port> failed (98: Address already in use)",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.rules.infrastructure import _placement as place

    spec = place.pod_spec(obj)
    ports = place.declared_ports(spec)
    if not place.host_network(obj) and not ports:
        return
    gateway = place.is_gateway(ctx.objects, obj)
    if not ports and not gateway:
        return  # nothing is known to be bound on the node
    replicas = _replicas(obj)
    if replicas is None or replicas < 1:
        return
    p = place.placement(obj)
    if ctx.objects.has_kind("Node"):
        fit = place.fit_for(ctx.objects, obj)
        usable = len(fit.eligible)
        if usable == 0:
            return  # nothing can run at all: RG305's case, with a different scheduler message
        pending = fit.unavailable_message(extra=[(usable, place.NO_FREE_PORTS)])
        scope = f"{usable} of the {len(fit.nodes)} Nodes in the inputs"
    elif HOSTNAME in p.node_selector:
        usable = 1
        pending = f"0/<n> nodes are available: 1 node(s) {place.NO_FREE_PORTS}, ..."
        scope = f"one node ({HOSTNAME}={p.node_selector[HOSTNAME]})"
    else:
        return
    binding = "hostNetwork" if place.host_network(obj) else "hostPort"
    why = (f"Pending with \"{pending}\"" if ports else
           "crash-looping on the already bound ports "
           "(nginx: bind() to 0.0.0.0:80 failed (98: Address already in use))")
    if replicas > usable:
        yield ctx.finding(
            obj, ("spec", "replicas"),
            f"{replicas} {binding} replicas but only {scope} can run this pod "
            f"({p.describe()}): one pod per node fits, so {replicas - usable} pod(s) stay {why}",
            fix=f"Set spec.replicas: {usable} (one {binding} pod per usable node).")
        return
    surge, unavailable, field = _rollout_budget(obj, replicas)
    if replicas == usable and unavailable == 0 and surge > 0:
        yield ctx.finding(
            obj, field,
            f"every rolling update will hang: it starts {surge} new pod(s) before stopping an "
            f"old one (maxSurge {surge}, maxUnavailable 0), but all {scope} already hold this "
            f"Deployment's host ports, so the new pod stays {why}",
            fix=("Set spec.strategy.rollingUpdate.maxUnavailable: 1 and maxSurge: 0 (or "
                 "strategy type Recreate) so the old pod frees the node's ports first."))


def _replicas(obj: KubeObject) -> int | None:
    value = obj.spec.get("replicas", 1)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _rollout_budget(obj: KubeObject, replicas: int) -> tuple[int, int, tuple[Any, ...]]:
    """(maxSurge, maxUnavailable) resolved like the Deployment controller, and the field."""
    strategy = obj.spec.get("strategy")
    strategy = strategy if isinstance(strategy, dict) else {}
    if strategy.get("type") == "Recreate":
        return 0, replicas, ("spec", "strategy", "type")
    rolling = strategy.get("rollingUpdate")
    rolling = rolling if isinstance(rolling, dict) else {}
    surge = _resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if "maxUnavailable" in rolling:
        field: tuple[Any, ...] = ("spec", "strategy", "rollingUpdate", "maxUnavailable")
    elif strategy:
        field = ("spec", "strategy")
    else:
        field = ("spec", "replicas")
    return surge, unavailable, field


def _resolve(value: Any, replicas: int, *, round_up: bool) -> int:
    """An int-or-percent like intstr.GetScaledValueFromIntOrPercent (surge rounds up,
    unavailability down)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    text = str(value).strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1]) * replicas / 100
        except ValueError:
            return 0
        return max(math.ceil(share) if round_up else math.floor(share), 0)
    return int(text) if text.isdigit() else 0
