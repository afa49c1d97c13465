"""Where a gateway controller's pods can run, worked out from manifests alone.

The Pinned Gateway (seed guide, step 3) only works if the scheduler puts the controller on one
known node: with ``hostNetwork: true`` the gateway's address *is* that node's IP. RG302-RG305
all ask the same questions about a workload (is it a gateway controller, is it pinned, which
of the Nodes in the inputs could host it), so the answers live here, once.

Node matching follows the scheduler closely enough for lint: ``nodeSelector`` (every pair must
match), required node affinity (terms are ORed, expressions inside a term ANDed, including
``matchFields`` on ``metadata.name``), ``spec.nodeName``, NoSchedule/NoExecute taints against
tolerations, and ``spec.unschedulable`` (which DaemonSet pods tolerate). Facts:
``/work/shared/facts/ingress_nginx.md`` §8 (hostNetwork, one pod per node, the scheduler's
"didn't have free ports" message).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from raygate.backends import ingress_nginx as nginx
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record

#: Labels every real Node carries; a selector on them alone does not pin anything. Hand-written
#: Node manifests often leave them out, so a Node *without* such a label is not counted as a
#: mismatch (a Node with a different value is).
GENERIC_NODE_LABELS = frozenset({
    "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
})

#: Image names of proxies people run as a hostNetwork gateway besides ingress-nginx.
_GATEWAY_IMAGE_WORDS = ("ingress", "nginx", "envoy", "haproxy", "traefik", "contour", "kong",
                        "gateway")

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
DID_NOT_MATCH = "didn't match Pod's node affinity/selector"
NO_FREE_PORTS = "didn't have free ports for the requested pod ports"


def label_str(value: Any) -> str:
    """A label value as text; an unquoted YAML ``true`` means the label ``"true"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pod_spec(workload: KubeObject) -> Mapping[str, Any]:
    spec = workload.get("spec", "template", "spec")
    return spec if isinstance(spec, dict) else {}


def host_network(workload: KubeObject) -> bool:
    return pod_spec(workload).get("hostNetwork") is True


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    containers = spec.get("containers")
    return [c for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def gateway_workloads(objects: ObjectSet) -> frozenset[int]:
    """ids of the Deployments/DaemonSets that act as the gateway (memoised per set).

    Every ingress-nginx controller counts (``ingress_nginx.find_controllers``); so does any
    hostNetwork workload running a proxy image, since it plays the same role for the guide.
    """
    def compute() -> frozenset[int]:
        found = {id(c.workload) for c in nginx.find_controllers(objects) if c.workload is not None}
        for w in objects.of_kind("Deployment", "DaemonSet"):
            if host_network(w) and any(_is_proxy_image(c.get("image")) for c in _containers(pod_spec(w))):
                found.add(id(w))
        return frozenset(found)

    return objects.memo("infrastructure-gateway-workloads", compute)


def _is_proxy_image(image: Any) -> bool:
    if not isinstance(image, str):
        return False
    # Only the repository path counts (not the registry host, tag or digest).
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    if ":" in name[slash + 1:]:
        name = name[:name.rfind(":")]
    path = name.split("/", 1)[1] if "/" in name and "." in name.split("/", 1)[0] else name
    return any(word in path.lower() for word in _GATEWAY_IMAGE_WORDS)


def is_gateway(objects: ObjectSet, workload: KubeObject) -> bool:
    return id(workload) in gateway_workloads(objects)


@record(frozen=True)
class Placement:
    """The scheduling constraints of one pod template."""

    node_selector: Mapping[str, str]
    required_terms: tuple[Mapping[str, Any], ...] | None  # None: no required node affinity
    has_preferred_affinity: bool
    node_name: str | None
    tolerations: tuple[Mapping[str, Any], ...]
    daemon: bool

    @property
    def pinning_selector(self) -> dict[str, str]:
        """The nodeSelector pairs that actually narrow the choice of node."""
        return {k: v for k, v in self.node_selector.items() if k not in GENERIC_NODE_LABELS}

    @property
    def pinned(self) -> bool:
        """Whether anything beyond OS/arch restricts the nodes (the entry IP cannot wander)."""
        return bool(self.pinning_selector) or bool(self.required_terms) or bool(self.node_name)

    def describe(self) -> str:
        parts = []
        if self.node_name:
            parts.append(f"nodeName {self.node_name}")
        if self.node_selector:
            parts.append("nodeSelector " + ", ".join(f"{k}={v}" for k, v in self.node_selector.items()))
        if self.required_terms:
            parts.append("required node affinity")
        return " and ".join(parts) or "no node constraint"


def placement(workload: KubeObject) -> Placement:
    spec = pod_spec(workload)
    raw_selector = spec.get("nodeSelector")
    selector = {str(k): label_str(v) for k, v in raw_selector.items()} if isinstance(raw_selector, dict) else {}
    affinity = spec.get("affinity")
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
    required: tuple[Mapping[str, Any], ...] | None = None
    preferred = False
    if isinstance(node_affinity, dict):
        req = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(req, dict):
            terms = req.get("nodeSelectorTerms")
            required = tuple(t for t in terms if isinstance(t, dict)) if isinstance(terms, list) else ()
        preferred = bool(node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))
    tolerations = spec.get("tolerations")
    node_name = spec.get("nodeName")
    return Placement(
        node_selector=selector,
        required_terms=required,
        has_preferred_affinity=preferred,
        node_name=node_name if isinstance(node_name, str) and node_name else None,
        tolerations=tuple(t for t in tolerations if isinstance(t, dict)) if isinstance(tolerations, list) else (),
        daemon=workload.kind == "DaemonSet",
    )


# ---------------------------------------------------------------------------------------------
# Matching one Node

def selector_matches(node: KubeObject, p: Placement) -> bool:
    """nodeSelector and required node affinity (the scheduler's NodeAffinity filter)."""
    return _labels_match({str(k): label_str(v) for k, v in node.labels.items()}, p, node.name)


def _labels_match(labels: Mapping[str, str], p: Placement, node_name: str = "") -> bool:
    for key, value in p.node_selector.items():
        if key in labels:
            if labels[key] != value:
                return False
        elif key not in GENERIC_NODE_LABELS:
            return False
    if p.required_terms is not None:
        return any(_term_matches(labels, node_name, term) for term in p.required_terms)
    return True


def _term_matches(labels: Mapping[str, str], node_name: str, term: Mapping[str, Any]) -> bool:
    exprs = term.get("matchExpressions")
    fields = term.get("matchFields")
    exprs = [e for e in exprs if isinstance(e, dict)] if isinstance(exprs, list) else []
    fields = [f for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []
    if not exprs and not fields:
        return False  # an empty term matches no node
    if not all(_expression_matches(labels, e) for e in exprs):
        return False
    return all(_expression_matches({"metadata.name": node_name}, f) for f in fields)


def _expression_matches(labels: Mapping[str, str], expr: Mapping[str, Any]) -> bool:
    key, op = str(expr.get("key")), expr.get("operator")
    raw_values = expr.get("values")
    values = [label_str(v) for v in raw_values] if isinstance(raw_values, list) else []
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if toleration.get("operator") == "Exists":
        return not key or key == taint.get("key")
    return key == taint.get("key") and str(toleration.get("value") or "") == str(taint.get("value") or "")


# ---------------------------------------------------------------------------------------------
# All Nodes

@record(frozen=True)
class NodeFit:
    """How the Nodes in the inputs sort out for one pod template."""

    nodes: tuple[KubeObject, ...]
    eligible: tuple[KubeObject, ...]
    rejected: Mapping[str, int]  # scheduler reason -> node count

    @property
    def mismatched(self) -> int:
        return self.rejected.get(DID_NOT_MATCH, 0)

    def unavailable_message(self, extra: Sequence[tuple[int, str]] = ()) -> str:
        """The scheduler's FailedScheduling text: ``0/<n> nodes are available: ...``."""
        reasons = [(n, reason) for n, reason in extra if n]
        reasons += [(n, reason) for reason, n in self.rejected.items()]
        # The scheduler sorts the formatted reasons as strings.
        text = ", ".join(sorted(f"{n} node(s) {reason}" for n, reason in reasons))
        return f"0/{len(self.nodes)} nodes are available: {text}."


def fit_for(objects: ObjectSet, workload: KubeObject) -> NodeFit:
    """``node_fit`` of a workload's pod template, computed once per set (RG304 and RG305 both
    ask, and a dump can hold thousands of Nodes)."""
    cache: dict[int, NodeFit] = objects.memo("infrastructure-node-fits", dict)
    key = id(workload)
    if key not in cache:
        cache[key] = node_fit(objects, placement(workload))
    return cache[key]


@record(frozen=True)
class _NodeFacts:
    """A Node's labels, scheduling taints and cordon state, read once per set."""

    node: KubeObject
    name: str
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, Any], ...]  # NoSchedule/NoExecute only
    unschedulable: bool


def _node_facts(objects: ObjectSet) -> tuple[_NodeFacts, ...]:
    def compute() -> tuple[_NodeFacts, ...]:
        facts = []
        for node in objects.of_kind("Node"):
            taints = node.get("spec", "taints")
            blocking = tuple(t for t in taints if isinstance(t, dict) and t.get("effect") in
                             ("NoSchedule", "NoExecute")) if isinstance(taints, list) else ()
            facts.append(_NodeFacts(node, node.name, {str(k): label_str(v) for k, v in node.labels.items()},
                                    blocking, node.get("spec", "unschedulable") is True))
        return tuple(facts)

    return objects.memo("infrastructure-node-facts", compute)


def node_fit(objects: ObjectSet, p: Placement) -> NodeFit:
    """Sort the Nodes in the inputs like the scheduler's filters, in its order (the first
    failing filter names the reason): unschedulable, nodeName, taints, node affinity."""
    eligible: list[KubeObject] = []
    rejected: dict[str, int] = {}
    facts = _node_facts(objects)
    for f in facts:
        reason = _rejection(f, p)
        if reason is None:
            eligible.append(f.node)
        else:
            rejected[reason] = rejected.get(reason, 0) + 1
    return NodeFit(tuple(f.node for f in facts), tuple(eligible), rejected)


def _rejection(f: _NodeFacts, p: Placement) -> str | None:
    """Why the scheduler would not place the pod on the node (None: it fits)."""
    if f.unschedulable and not p.daemon and not any(
            _tolerates(t, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}) for t in p.tolerations):
        return "were unschedulable"
    if p.node_name and f.name != p.node_name:
        return "didn't match the requested node name"
    for taint in f.taints:
        if not any(_tolerates(t, taint) for t in p.tolerations):
            return f"had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"
    if not _labels_match(f.labels, p, f.name):
        return DID_NOT_MATCH
    return None


def declared_ports(spec: Mapping[str, Any]) -> list[int]:
    """Ports the scheduler reserves on the node: every containerPort under hostNetwork (they
    become host ports), else explicit hostPorts."""
    hostnet = spec.get("hostNetwork") is True
    ports: list[int] = []
    for c in _containers(spec):
        raw_ports = c.get("ports")
        for port in raw_ports if isinstance(raw_ports, list) else []:
            if not isinstance(port, dict):
                continue
            value = port.get("hostPort") or (port.get("containerPort") if hostnet else None)
            if isinstance(value, int) and value > 0:
                ports.append(value)
    return ports
