"""The runtime truth doctor adds to the manifests: readiness, endpoints, placement, addresses.

Static rules read what users *wrote*; runtime rules (``needs="runtime"``) read what the cluster
*did* with it. Both a live cluster and a snapshot (``kubectl get ... -o yaml``) carry that truth
in the objects' ``status`` and in EndpointSlices, Pods and Nodes; what only a live cluster can
give (a server-side dry-run's denial text, controller logs, the address users were told) lives
in ``RuntimeState`` beside the objects. A snapshot can carry those too, in a
``raygate.io/v1alpha1 DoctorCapture`` document that ``raygate doctor --save-snapshot`` writes.

Everything here is pure: functions of an ``ObjectSet`` and a ``RuntimeState``. That is why it
lives in the core beside ``exposure`` and not in ``doctor/``: the runtime rules depend on it,
and rules must not depend on an edge package.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from raygate.backends import ingress_nginx as nginx
from raygate import kuberay
from raygate.objects import KubeObject, ObjectSet, matches_label_selector, matches_selector
from raygate.records import field, record

CAPTURE_API_VERSION = "raygate.io/v1alpha1"
CAPTURE_KIND = "DoctorCapture"

#: nodeSelector keys every node carries; they say nothing about *which* node is the gateway
#: (the upstream deploy.yaml pins the controller to ``kubernetes.io/os: linux``).
GENERIC_NODE_LABELS = ("kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
                       "beta.kubernetes.io/arch", "node.kubernetes.io/instance-type",
                       "topology.kubernetes.io/region", "topology.kubernetes.io/zone")

# Why a Service port has no ready endpoint (the four reasons the issue names, plus the
# "looks fine but the EndpointSlice says otherwise" case).
NO_SERVICE_PORT = "port missing"
NO_HEAD_POD = "no head pod"
HEAD_NOT_READY = "head not ready"
SELECTOR_MISMATCH = "selector mismatch"
TARGET_PORT_MISSING = "port missing on the pod"
STALE_SLICE = "no ready endpoint in the EndpointSlice"
UNKNOWN = "unknown"


@record(frozen=True)
class RuntimeState:
    """What a runtime rule may read besides the objects."""

    source: str = "snapshot"  # "snapshot" | "live"
    where: str = ""  # the snapshot path or the kube context, for messages
    #: Addresses users were given for the gateway (``--expect-ip``).
    expect_ips: tuple[str, ...] = ()
    #: ``(namespace, pod) -> log text`` of controller pods (``--logs``).
    logs: Mapping[tuple[str, str], str] = field(default_factory=dict)
    logs_requested: bool = False
    #: ``(kind, namespace, name) -> denial text`` from a server-side dry-run; ``None`` = admitted.
    admission: Mapping[tuple[str, str, str], str | None] = field(default_factory=dict)
    #: Kinds the source could not list, with why (RBAC).
    forbidden: Mapping[str, str] = field(default_factory=dict)
    #: Kinds the source listed (a live source lists a kind even when it has no objects).
    listed: frozenset[str] = frozenset()
    #: ``kind -> versions`` the live cluster serves, from its API discovery (custom kinds:
    #: Gateway API, KubeRay); empty for a snapshot without a capture.
    served: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def saw(self, kind: str) -> bool:
        """Whether ``kind`` was read at all, so its absence means something."""
        return kind in self.listed and kind not in self.forbidden


def runtime_from_objects(objects: ObjectSet, *, source: str = "snapshot", where: str = "",
                         expect_ips: Iterable[str] = (),
                         logs: Mapping[tuple[str, str], str] | None = None,
                         logs_requested: bool | None = None,
                         admission: Mapping[tuple[str, str, str], str | None] | None = None,
                         forbidden: Mapping[str, str] | None = None,
                         listed: Iterable[str] | None = None,
                         served: Mapping[str, Iterable[str]] | None = None) -> RuntimeState:
    """The runtime state of a snapshot (or, with the keywords, of a live read).

    ``DoctorCapture`` documents in ``objects`` add their expected IPs, logs and dry-run results
    to whatever is passed in. For a snapshot, a kind counts as listed when any object of it
    is present (``kubectl get`` dumps of a kind that has none are indistinguishable from a
    kind that was never dumped, so absence is not taken as truth).
    """
    ips = list(expect_ips)
    all_logs = dict(logs or {})
    all_admission = dict(admission or {})
    captured_logs = False
    all_served = {str(k): tuple(str(v) for v in vs) for k, vs in (served or {}).items()}
    for cap in objects.of_kind(CAPTURE_KIND):
        spec = cap.spec
        versions = spec.get("servedVersions")
        for kind, vs in (versions.items() if isinstance(versions, dict) else ()):
            all_served.setdefault(str(kind), tuple(str(v) for v in as_list(vs)))
        ips += [str(ip) for ip in as_list(spec.get("expectIPs")) if ip]
        for item in as_list(spec.get("logs")):
            if isinstance(item, dict) and item.get("pod"):
                ns = str(item.get("namespace") or "default")
                all_logs.setdefault((ns, str(item["pod"])), str(item.get("text") or ""))
                captured_logs = True
        for item in as_list(spec.get("admission")):
            if isinstance(item, dict) and item.get("name"):
                key = (str(item.get("kind") or "Ingress"), str(item.get("namespace") or "default"),
                       str(item["name"]))
                denied = item.get("denied")
                all_admission.setdefault(key, str(denied) if denied else None)
    kinds = set(listed) if listed is not None else {o.kind for o in objects}
    return RuntimeState(
        source=source, where=where, expect_ips=tuple(dict.fromkeys(ips)), logs=all_logs,
        logs_requested=bool(logs_requested) if logs_requested is not None else captured_logs,
        admission=all_admission, forbidden=dict(forbidden or {}), listed=frozenset(kinds),
        served=all_served)


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else empty: live state can hold anything."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def state_of(ctx_runtime: Any, objects: ObjectSet) -> RuntimeState:
    """The ``RuntimeState`` a rule was given (tolerating a bare marker from older harnesses)."""
    if isinstance(ctx_runtime, RuntimeState):
        return ctx_runtime
    return objects.memo("raygate-doctor-runtime", lambda: runtime_from_objects(objects))


# ---------------------------------------------------------------------------------------------
# Pods and Nodes


def condition(obj: KubeObject, kind: str) -> Mapping[str, Any] | None:
    for c in as_list(obj.status.get("conditions")):
        if isinstance(c, dict) and c.get("type") == kind:
            return c
    return None


def pod_ready(pod: KubeObject) -> bool:
    if pod.metadata.get("deletionTimestamp"):
        return False
    c = condition(pod, "Ready")
    return bool(c) and str(c.get("status")) == "True"


def pod_trouble(pod: KubeObject) -> str:
    """Why a pod is not ready, in the words ``kubectl get pods`` would use."""
    if pod.metadata.get("deletionTimestamp"):
        return "Terminating"
    for cs in as_list(pod.status.get("containerStatuses")):
        if not isinstance(cs, dict):
            continue
        state = cs.get("state") if isinstance(cs.get("state"), dict) else {}
        waiting = state.get("waiting") if isinstance(state.get("waiting"), dict) else None
        if waiting and waiting.get("reason"):
            msg = f" ({waiting['message']})" if waiting.get("message") else ""
            return f"{waiting['reason']}{msg}"
        terminated = state.get("terminated") if isinstance(state.get("terminated"), dict) else None
        if terminated and terminated.get("reason"):
            return f"{terminated['reason']} (exit code {terminated.get('exitCode')})"
        if cs.get("ready") is False and state.get("running"):
            return f"container {cs.get('name')} is running but not ready (readiness probe failing)"
    scheduled = condition(pod, "PodScheduled")
    if scheduled and str(scheduled.get("status")) == "False":
        return f"Unschedulable: {scheduled.get('message') or scheduled.get('reason')}"
    phase = pod.status.get("phase")
    ready = condition(pod, "Ready")
    if ready and ready.get("message"):
        return f"{phase or 'not ready'}: {ready['message']}"
    return str(phase or "not ready (no status)")


def node_ready(node: KubeObject) -> bool:
    c = condition(node, "Ready")
    return bool(c) and str(c.get("status")) == "True"


def node_addresses(node: KubeObject) -> tuple[str, ...]:
    """InternalIP/ExternalIP addresses of a Node (the ones traffic can be sent to)."""
    out = []
    for a in as_list(node.status.get("addresses")):
        if isinstance(a, dict) and a.get("type") in ("InternalIP", "ExternalIP") and a.get("address"):
            out.append(str(a["address"]))
    return tuple(out)


def describe_node(node: KubeObject) -> str:
    addrs = ", ".join(node_addresses(node)) or "no address"
    return f"{node.name} ({addrs}{'' if node_ready(node) else ', NotReady'})"


def gateway_selector(selector: Any) -> dict[str, str]:
    """The part of a nodeSelector that picks *the* gateway node (generic OS/arch keys dropped)."""
    if not isinstance(selector, dict):
        return {}
    return {str(k): str(v) for k, v in selector.items() if k not in GENERIC_NODE_LABELS}


def format_selector(selector: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in selector.items())


# ---------------------------------------------------------------------------------------------
# The ingress-nginx controller at runtime


def is_controller_pod(pod: KubeObject) -> bool:
    containers = as_list(pod.spec.get("containers"))
    return any(isinstance(c, dict) and nginx.is_controller_container(c) for c in containers)


def controller_pods(objects: ObjectSet, workload: KubeObject) -> tuple[KubeObject, ...]:
    """The Pods a controller Deployment/DaemonSet runs (its label selector, same namespace)."""
    selector = workload.get("spec", "selector")
    match = selector.get("matchLabels") if isinstance(selector, dict) else None
    if isinstance(match, dict) and match:
        key, value = next(iter(match.items()))
        candidates = objects.with_label("Pod", str(key), value)
    else:
        candidates = objects.in_namespace("Pod", workload.namespace)
    return tuple(p for p in candidates
                 if p.namespace == workload.namespace and matches_label_selector(p.labels, selector))


def workload_of_pod(objects: ObjectSet, pod: KubeObject) -> KubeObject | None:
    for w in objects.of_kind("Deployment", "DaemonSet"):
        if w.namespace == pod.namespace and matches_label_selector(pod.labels, w.get("spec", "selector")):
            return w
    return None


def controller_services(objects: ObjectSet, workload: KubeObject) -> tuple[KubeObject, ...]:
    labels = workload.get("spec", "template", "metadata", "labels") or {}
    return tuple(s for s in objects.in_namespace("Service", workload.namespace)
                 if isinstance(s.spec.get("selector"), dict)
                 and matches_selector(labels, s.spec["selector"]))


def gateway_addresses(objects: ObjectSet, controller: nginx.Controller) -> dict[str, str]:
    """Addresses where the controller answers now -> how (for messages)."""
    out: dict[str, str] = {}
    w = controller.workload
    if w is None:
        return out
    if controller.host_network:
        pods = [p for p in controller_pods(objects, w) if p.spec.get("nodeName")]
        nodes = [objects.get("Node", "", str(p.spec["nodeName"])) for p in pods if pod_ready(p)]
        if not pods:  # no Pods read: the nodes the selector allows are the best guess
            sel = gateway_selector(controller.pod_spec.get("nodeSelector"))
            nodes = list(objects.nodes_matching(sel)) if sel else []
        for n in nodes:
            if n is not None and node_ready(n):
                for a in node_addresses(n):
                    out[a] = f"node {n.name} (hostNetwork)"
    # An externalIP only works on the node that owns the address (facts: ingress_nginx.md §8).
    live = objects.memo("doctor-live-node-addresses", lambda: frozenset(
        a for n in objects.of_kind("Node") if node_ready(n) for a in node_addresses(n)))
    for svc in controller_services(objects, w):
        for ip in as_list(svc.spec.get("externalIPs")):
            if str(ip) in live or not objects.has_kind("Node"):
                out.setdefault(str(ip), f"Service {svc.namespace}/{svc.name} externalIPs")
        for ing in as_list(svc.get("status", "loadBalancer", "ingress")):
            if isinstance(ing, dict) and ing.get("ip"):
                out.setdefault(str(ing["ip"]), f"Service {svc.namespace}/{svc.name} load balancer")
        if svc.spec.get("type") == "NodePort":
            for n in objects.of_kind("Node"):
                if node_ready(n):
                    for a in node_addresses(n):
                        out.setdefault(a, f"node {n.name} (NodePort)")
    return out


# ---------------------------------------------------------------------------------------------
# Endpoints: does a Service port have a ready backend, and if not, why


@record(frozen=True)
class EndpointCheck:
    """The answer for one Service port. ``known`` is False when the inputs cannot tell."""

    known: bool
    ready: tuple[str, ...] = ()
    reason: str | None = None
    detail: str = ""
    pods: tuple[KubeObject, ...] = ()
    evidence: str = ""  # "EndpointSlice", "Endpoints" or "Pods"

    @property
    def ok(self) -> bool:
        return bool(self.ready)


def check_endpoints(objects: ObjectSet, state: RuntimeState, svc: KubeObject,
                    port: str) -> EndpointCheck:
    """Whether ``svc``'s port ``port`` (number or name, as a reference writes it) has a ready
    endpoint, from EndpointSlices (what the controller reads; facts: ingress_nginx.md §3.1)
    or, when the source has none, from the Pods the Service selects."""
    svc_port = nginx.resolve_service_port(svc, port)
    if svc_port is None:
        names = [f"{p.get('name') or '-'}:{p.get('port')}" for p in as_list(svc.spec.get("ports"))
                 if isinstance(p, dict)]
        return EndpointCheck(True, reason=NO_SERVICE_PORT,
                             detail=f"Service {svc.namespace}/{svc.name} has no TCP port {port} "
                                    f"(its ports: {', '.join(names) or 'none'})")
    port_name = str(svc_port.get("name") or "")
    target = svc_port.get("targetPort", svc_port.get("port"))

    slice_ready: tuple[str, ...] | None = None
    evidence = ""
    if state.saw("EndpointSlice"):
        slice_ready, evidence = _ready_in_slices(objects, svc, port_name), "EndpointSlice"
    elif state.saw("Endpoints"):
        slice_ready, evidence = _ready_in_endpoints(objects, svc, port_name), "Endpoints"
    if slice_ready:
        return EndpointCheck(True, ready=slice_ready, evidence=evidence)

    pod_reason = _pod_reason(objects, state, svc, target) if state.saw("Pod") else None
    if slice_ready is None:  # no endpoint objects read: the Pods are the only evidence
        if pod_reason is None:
            return EndpointCheck(False)
        return pod_reason
    if pod_reason is not None and pod_reason.reason:
        return EndpointCheck(True, reason=pod_reason.reason, detail=pod_reason.detail,
                             pods=pod_reason.pods, evidence=evidence)
    why = ("the Pods look ready, so the EndpointSlice is stale or the endpoints controller "
           "is behind" if pod_reason is not None else "Pods were not read, so the reason is unknown")
    return EndpointCheck(True, reason=STALE_SLICE,
                         detail=f"{evidence} of {svc.namespace}/{svc.name} lists no ready endpoint "
                                f"for port {port_name or port}; {why}", evidence=evidence)


def _ready_in_slices(objects: ObjectSet, svc: KubeObject, port_name: str) -> tuple[str, ...]:
    ready: list[str] = []
    for sl in objects.with_label("EndpointSlice", "kubernetes.io/service-name", svc.name):
        if sl.namespace != svc.namespace:
            continue
        ports = sl.raw.get("ports")
        # A slice with no ports field serves all of the Service's ports.
        if isinstance(ports, list) and not any(
                isinstance(p, dict) and str(p.get("name") or "") == port_name for p in ports):
            continue
        for ep in as_list(sl.raw.get("endpoints")):
            if not isinstance(ep, dict):
                continue
            cond = ep.get("conditions") if isinstance(ep.get("conditions"), dict) else {}
            # ``ready`` unset means ready (discovery.k8s.io/v1 EndpointConditions).
            if cond.get("ready") is False:
                continue
            ready += [str(a) for a in as_list(ep.get("addresses"))]
    return tuple(ready)


def _ready_in_endpoints(objects: ObjectSet, svc: KubeObject, port_name: str) -> tuple[str, ...]:
    ep = objects.get("Endpoints", svc.namespace, svc.name)
    ready: list[str] = []
    for subset in as_list(ep.raw.get("subsets")) if ep is not None else []:
        if not isinstance(subset, dict):
            continue
        ports = as_list(subset.get("ports"))
        if not any(isinstance(p, dict) and str(p.get("name") or "") == port_name for p in ports):
            continue
        ready += [str(a.get("ip")) for a in as_list(subset.get("addresses")) if isinstance(a, dict)]
    return tuple(ready)


def _pod_reason(objects: ObjectSet, state: RuntimeState, svc: KubeObject,
                target: Any) -> EndpointCheck | None:
    """What the selected Pods say: a reason when they explain missing endpoints, else an
    ``EndpointCheck`` with the ready addresses they imply. ``None`` when the Service has no
    selector (its endpoints are managed by hand, so Pods prove nothing)."""
    selector = svc.spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return None
    pods = objects.pods_selected_by(svc)
    where = f"Service {svc.namespace}/{svc.name} selects {format_selector(selector)}"
    if not pods:
        heads = head_pods_for_service(objects, svc)
        if heads:
            diff = _label_diff(selector, heads[0].labels)
            return EndpointCheck(True, reason=SELECTOR_MISMATCH, pods=heads, evidence="Pods",
                                 detail=f"{where}, but the head pod {heads[0].name} has {diff}")
        ray = kuberay.owner_of_service(objects, svc.namespace, svc.name) or _ray_by_selector(objects, svc)
        owner = f" of RayCluster {ray.namespace}/{ray.name}" if ray is not None else ""
        if ray is not None and ray.spec.get("suspend") is True:
            owner += " (suspended: spec.suspend is true)"
        return EndpointCheck(True, reason=NO_HEAD_POD, evidence="Pods",
                             detail=f"{where}, and no head pod{owner} exists")
    ready = [p for p in pods if pod_ready(p)]
    if not ready:
        p = pods[0]
        return EndpointCheck(True, reason=HEAD_NOT_READY, pods=tuple(pods), evidence="Pods",
                             detail=f"pod {p.namespace}/{p.name} is not ready: {pod_trouble(p)}")
    if isinstance(target, str) and not target.isdigit():
        with_port = [p for p in ready if _has_container_port(p, target)]
        if not with_port:
            return EndpointCheck(True, reason=TARGET_PORT_MISSING, pods=tuple(ready), evidence="Pods",
                                 detail=f"{where}; its targetPort is the name \"{target}\", which "
                                        f"no container of pod {ready[0].name} declares")
        ready = with_port
    ips = tuple(str(p.status.get("podIP")) for p in ready if p.status.get("podIP"))
    return EndpointCheck(True, ready=ips or tuple(p.name for p in ready), pods=tuple(ready),
                         evidence="Pods")


def _has_container_port(pod: KubeObject, name: str) -> bool:
    for c in as_list(pod.spec.get("containers")):
        for p in as_list(c.get("ports")) if isinstance(c, dict) else []:
            if isinstance(p, dict) and p.get("name") == name:
                return True
    return False


def _label_diff(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> str:
    parts = []
    for k, v in selector.items():
        if k not in labels:
            parts.append(f"no label {k}")
        elif str(labels[k]) != str(v):
            parts.append(f"{k}={labels[k]} (not {v})")
    return ", ".join(parts) or "matching labels"


def _ray_by_selector(objects: ObjectSet, svc: KubeObject) -> KubeObject | None:
    selector = svc.spec.get("selector") or {}
    name = selector.get("ray.io/cluster") if isinstance(selector, dict) else None
    return objects.get("RayCluster", svc.namespace, str(name)) if name else None


def head_pods(objects: ObjectSet, ray: KubeObject) -> tuple[KubeObject, ...]:
    """The head Pod(s) of a RayCluster: ``status.head.podName``, else by KubeRay's labels."""
    name = ray.get("status", "head", "podName")
    pods = [p for p in objects.with_label("Pod", "ray.io/cluster", ray.name)
            if p.namespace == ray.namespace and p.labels.get("ray.io/node-type") == "head"]
    named = objects.get("Pod", ray.namespace, str(name)) if isinstance(name, str) else None
    if named is not None and named not in pods:
        pods.insert(0, named)
    return tuple(pods)


def head_pods_for_service(objects: ObjectSet, svc: KubeObject) -> tuple[KubeObject, ...]:
    """Head pods a Ray head Service *should* select (to tell "selector mismatch" from
    "no head pod"): those of its owning RayCluster, else any head pod named in its selector."""
    ray = kuberay.owner_of_service(objects, svc.namespace, svc.name) or _ray_by_selector(objects, svc)
    if ray is not None and ray.kind == "RayCluster":
        return head_pods(objects, ray)
    selector = svc.spec.get("selector") or {}
    if not kuberay.is_head_service(objects, svc):
        return ()
    cluster = selector.get("ray.io/cluster") if isinstance(selector, dict) else None
    return tuple(p for p in objects.with_label("Pod", "ray.io/node-type", "head")
                 if p.namespace == svc.namespace
                 and (cluster is None or p.labels.get("ray.io/cluster") == cluster))


REASON_FIX = {
    NO_SERVICE_PORT: ("Reference a port the Service has (by number or by name), or add the port "
                      "to the head container's ports so KubeRay adds it to the head Service."),
    NO_HEAD_POD: ("Get the head pod back: check the RayCluster (`kubectl describe raycluster`), "
                  "un-suspend it, and read the KubeRay operator's log for why it is not creating the pod."),
    HEAD_NOT_READY: ("Fix the head pod first (`kubectl describe pod` and its logs): nginx only "
                     "routes to a ready endpoint, so the route returns once the head is ready."),
    SELECTOR_MISMATCH: ("Point the route at the head Service KubeRay manages "
                        "(RayCluster status.head.serviceName) or correct the Service selector to the "
                        "head pod's labels (ray.io/cluster, ray.io/node-type=head)."),
    TARGET_PORT_MISSING: ("Name the container port as the Service's targetPort expects "
                          "(KubeRay names them dashboard, client, serve, gcs-server), or use a number."),
    STALE_SLICE: ("Check the EndpointSlice (`kubectl get endpointslices -l "
                  "kubernetes.io/service-name=<svc> -o yaml`) and the head pod's readiness."),
}
