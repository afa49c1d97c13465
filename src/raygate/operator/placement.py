"""Where the gateway runs, and what to do when that node goes away: pure decisions.

The Pinned Gateway runs the controller with hostNetwork on the one node carrying the gateway
label (``ingress-ready=true`` in the guide); users reach it at that node's address. When the
node disappears, loses the label or goes NotReady, every Ray Client address users were given
stops working: the guide's "it worked yesterday". The operator notices on its next pass and:

* always emits an Event saying what happened;
* with a failover label configured (nodes labelled e.g. ``raygate.io/gateway-candidate=true``),
  moves the gateway label to the first Ready candidate (by name, so two replicas agree) and
  rewrites the addresses on every exposed cluster;
* otherwise reports that nobody can reach the gateway until a node is labelled.

With MetalLB (``placement.mode: metallb``) the address belongs to the controller's
LoadBalancer Service (a Gateway's, on the Gateway API backend), not to a node: MetalLB's
speakers move its announcement to a healthy node themselves (L2: the speakers' memberlist
elects another when a node fails), so there is nothing to relabel. What the operator does is
read the address MetalLB assigned (the Service's ``status.loadBalancer.ingress``; the Gateway's
``status.addresses``), tell users that one, say when it changes, and say when there is none:
MetalLB then failed to assign one (no pool it may use, the requested IP outside every pool or
taken: facts gateway_api_metallb.md §6.3, "assignment fails with an event on the Service").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class NodeView:
    name: str
    labels: Mapping[str, str]
    ready: bool
    address: str | None

    @classmethod
    def of(cls, node: Mapping[str, Any]) -> "NodeView":
        meta = node.get("metadata") or {}
        status = node.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or [] if isinstance(c, dict))
        unschedulable = bool((node.get("spec") or {}).get("unschedulable"))
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []
                     if isinstance(a, dict)}
        return cls(str(meta.get("name") or ""), dict(meta.get("labels") or {}),
                   ready and not unschedulable,
                   addresses.get("ExternalIP") or addresses.get("InternalIP"))


def view(nodes: Iterable[Mapping[str, Any]], label: str,
         failover_label: str | None) -> tuple[NodeView, ...]:
    """What ``decide`` reads of the nodes: those carrying the gateway label or the failover
    label, as NodeViews (a node's other changes, its kubelet's status heartbeats among them,
    decide nothing here)."""
    return tuple(sorted((v for v in map(NodeView.of, nodes)
                         if _matches(v.labels, label)
                         or (failover_label is not None and _matches(v.labels, failover_label))),
                        key=lambda v: v.name))


def _matches(labels: Mapping[str, str], selector: str) -> bool:
    key, sep, value = selector.partition("=")
    return key in labels and (not sep or labels[key] == value)


@dataclass(frozen=True)
class Decision:
    state: str                  # "ok" | "move" | "lost" | "unplaced"
    current: str | None         # the labelled node (or None)
    target: str | None = None   # where to move the label
    address: str | None = None  # the gateway's address after the decision
    reason: str = ""


def decide(nodes: Iterable[Mapping[str, Any]], label: str,
           failover_label: str | None) -> Decision:
    """``label`` and ``failover_label`` are ``key=value`` (or ``key``) selectors."""
    views = sorted((NodeView.of(n) for n in nodes), key=lambda v: v.name)
    pinned = [v for v in views if _matches(v.labels, label)]
    healthy = [v for v in pinned if v.ready]
    if len(healthy) == 1 and len(pinned) == 1:
        return Decision("ok", healthy[0].name, address=healthy[0].address)
    if len(pinned) > 1:
        names = ", ".join(v.name for v in pinned)
        return Decision("lost", None, reason=f"{len(pinned)} nodes carry {label} ({names}): a "
                        "hostNetwork gateway pinned by it can land on any of them")
    current = pinned[0].name if pinned else None
    why = (f"gateway node {current} is NotReady" if current
           else f"no node carries the gateway label {label}")
    if failover_label is None:
        return Decision("lost", current, reason=why + "; no failover label is configured")
    candidates = [v for v in views if v.ready and _matches(v.labels, failover_label)
                  and v.name != current]
    if not candidates:
        return Decision("lost", current, reason=why + f"; no Ready node carries {failover_label}")
    target = candidates[0]
    return Decision("move", current, target.name, target.address,
                    reason=why + f"; moving the gateway to {target.name}")


def relabel_patches(decision: Decision, label: str) -> list[tuple[str, dict[str, Any]]]:
    """(node, merge patch) pairs that move the gateway label (remove first, then add, so at no
    moment do two nodes carry it)."""
    if decision.state != "move" or decision.target is None:
        return []
    key, _, value = label.partition("=")
    out: list[tuple[str, dict[str, Any]]] = []
    if decision.current:
        out.append((decision.current, {"metadata": {"labels": {key: None}}}))
    out.append((decision.target, {"metadata": {"labels": {key: value or "true"}}}))
    return out


def load_balancer_address(obj: Mapping[str, Any] | None) -> str | None:
    """The address a load balancer gave ``obj``: a Service's first
    ``status.loadBalancer.ingress`` (ip, else hostname) or a Gateway's first
    ``status.addresses`` value; None when none is assigned yet."""
    status = (obj or {}).get("status") or {}
    for ingress in (status.get("loadBalancer") or {}).get("ingress") or []:
        if isinstance(ingress, dict) and (ingress.get("ip") or ingress.get("hostname")):
            return str(ingress.get("ip") or ingress.get("hostname"))
    for address in status.get("addresses") or []:
        if isinstance(address, dict) and address.get("value"):
            return str(address["value"])
    return None


def decide_load_balancer(subject: Mapping[str, Any] | None, what: str,
                         previous: str | None) -> Decision:
    """MetalLB mode: ``subject`` is the controller's Service (or the shared Gateway), ``what``
    names it for people, ``previous`` is the address last seen (None: none seen yet)."""
    if subject is None:
        return Decision("lost", None, reason=f"{what} not found: nobody can reach the gateway")
    address = load_balancer_address(subject)
    if address is None:
        return Decision("lost", None, reason=(
            f"{what} has no load-balancer address: MetalLB has not assigned one (no "
            "IPAddressPool it may use, the requested IP outside every pool or taken, or MetalLB "
            f"not running; the Events of {what} say which)"))
    if previous is not None and address != previous:
        return Decision("move", None, address=address, reason=(
            f"{what} is now reached at {address} (was {previous}): the addresses users were "
            "given are rewritten"))
    return Decision("ok", None, address=address)
