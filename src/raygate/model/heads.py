"""Which objects are Ray heads, which Services reach them, and how sure raygate is of it.

Every rule that asks "is this a Ray head?" asks here, so they agree. A head is recognised from,
most certain first:

``certain``
    a KubeRay CR (RayCluster, RayService, RayJob; KubeRay v1.7.0) or one of its children:
    the head Service ``status.head.serviceName`` / ``headGroupSpec.headService.metadata.name`` /
    ``<cluster>-head-svc`` (``utils/util.go: GenerateHeadServiceName``); a RayService's stable
    ``<rayservice>-head-svc`` and ``<rayservice>-serve-svc`` (``common/service.go:
    BuildHeadServiceForRayService``, ``BuildServeService``) and its child clusters, named
    ``<rayservice>-<5 random characters>`` since v1.4.0 (``GenerateRayClusterName``;
    ``<rayservice>-raycluster-<5>`` before), read from ``status.activeServiceStatus`` /
    ``pendingServiceStatus.rayClusterName`` or recognised by that shape; a RayJob's
    ``<rayjob>-head-svc`` (``common/job.go``), its cluster ``status.rayClusterName`` or the
    RayCluster its ``clusterSelector`` names; any Service labelled or selecting
    ``ray.io/node-type: head`` (``HeadServiceLabels``).
``likely``
    a chart's naming or a command: ``<release>-kuberay-head-svc`` (the KubeRay ``ray-cluster``
    chart, ``nameOverride: kuberay``) and ``<cluster>-head-svc`` without the CR in the inputs;
    ``<release>-ray-head`` (the deprecated Ray chart ``deploy/charts/ray``, whose
    ``cluster.ray.io/v1`` RayCluster ``<release>`` made the old Python operator create that
    Service, ``ray_operator/operator_utils.py: get_provider_config``); a Deployment,
    StatefulSet, ReplicaSet, Job or Pod whose container runs ``ray start --head`` (ports read
    from ``--port``, ``--dashboard-port``, ``--ray-client-server-port``) and the Services
    selecting it.
``possible``
    well-known port numbers alone: a Service in the inputs publishing the Dashboard (8265) or
    Ray Client (10001) port, or two or more of 6379/8265/10001 (6379 alone is far more often
    Redis). A route naming such a port on a Service the inputs do not contain is not enough.

Each answer carries its evidence as text, so a finding on a head that is not ``certain`` can
say why raygate thinks it is one. ``declared_exposures`` lists what a Ray CR asks KubeRay to
publish (``headService`` / ``serviceType`` of LoadBalancer or NodePort, ``enableIngress`` with
``ingressOptions``) and ``generated_ingress`` builds the Ingress KubeRay v1.7.0 would create
(``common/ingress.go: BuildIngressForHeadService``), annotations included, so the annotation
rules can judge what the admission webhook will see.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from raygate import kuberay
from raygate.objects import FieldPath, KubeObject, ObjectSet, matches_selector
from raygate.records import field, record

CERTAIN, LIKELY, POSSIBLE = "certain", "likely", "possible"
_RANK = {CERTAIN: 0, LIKELY: 1, POSSIBLE: 2}

#: Ray's own defaults for ``ray start --head`` (docs: ray-core/configure "Ports configurations").
RAY_START_DEFAULTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001}
_START_FLAGS = {"--port": "gcs-server", "--dashboard-port": "dashboard",
                "--ray-client-server-port": "client", "--metrics-export-port": "metrics",
                "--dashboard-agent-listen-port": "dashboard-agent"}
#: Roles a number alone suggests (RG105 also treats 52365 and 8080 as internal-only).
WELL_KNOWN_ROLES = {6379: "gcs-server", 8265: "dashboard", 10001: "client",
                    kuberay.DASHBOARD_AGENT_PORT: "dashboard-agent"}
_DISTINCT = (8265, 10001)  # a Service on one of these is a possible head by itself
#: k8s.io/apimachinery rand.String alphabet (no vowels, no 0/1/3): KubeRay's cluster suffix.
_SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"
#: Token auth exists from Ray 2.52 on (facts: kuberay_ray.md §4, §7).
TOKEN_AUTH_SINCE = (2, 52)
_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "Pod")


@record(frozen=True)
class Head:
    """One Ray head: the object that shows it, the Ray CR behind it (if any) and its ports."""

    namespace: str
    source: KubeObject | None  # the Ray CR, the workload, or the Service that shows the head
    ray: KubeObject | None  # RayCluster/RayService/RayJob when KubeRay runs it
    confidence: str
    evidence: str
    ports: Mapping[str, int]  # Ray role (dashboard, client, gcs-server, ...) -> head port
    auth: str  # "token" | "disabled" | "unknown"
    auth_reason: str
    container_ports: Mapping[str, int] = field(default_factory=dict)  # name -> containerPort
    #: ``--dashboard-host`` of a ``ray start --head`` command (Ray's default is 127.0.0.1);
    #: None when the head is not started by a command raygate read (KubeRay forces 0.0.0.0).
    dashboard_host: str | None = None

    @property
    def label(self) -> str:
        if self.source is None:
            return "an unknown Ray head"
        return f"{self.source.kind} {self.source.namespace}/{self.source.name}"

    def role_of_number(self, number: int) -> str | None:
        for role, value in self.ports.items():
            if value == number:
                return role
        return None


@record(frozen=True)
class HeadService:
    """A Service (in the inputs or only named by a route) that reaches a Ray head."""

    namespace: str
    service: str
    head: Head
    confidence: str
    evidence: str
    service_obj: KubeObject | None = None
    #: KubeRay's Serve Service (``-serve-svc``): reaches the Serve proxies, not the head's
    #: control ports.
    serve: bool = False

    @property
    def ray(self) -> KubeObject | None:
        return self.head.ray

    @property
    def certain(self) -> bool:
        return self.confidence == CERTAIN

    def note(self) -> str:
        """``""`` for a certain head, else ``" (likely Ray head: <evidence>)"`` for messages."""
        return "" if self.certain else f" ({self.confidence} Ray head: {self.evidence})"

    def role(self, port: str | None) -> str | None:
        """The Ray role of ``port`` (a number or a name, as a route writes it) on this Service."""
        if port is None:
            return None
        svc = self.service_obj
        if svc is not None:
            for p in _list(svc.spec.get("ports")):
                if not isinstance(p, dict):
                    continue
                if (port.isdigit() and str(p.get("port")) == port) or p.get("name") == port:
                    return self._role_of_service_port(p)
            return None
        if port.isdigit():
            return self.head.role_of_number(int(port)) or WELL_KNOWN_ROLES.get(int(port))
        return _role_name(port) or (self.head.role_of_number(self.head.container_ports[port])
                                    if port in self.head.container_ports else None)

    def _role_of_service_port(self, p: Mapping[str, Any]) -> str | None:
        name = p.get("name")
        if isinstance(name, str) and _role_name(name) and self.head.ray is not None:
            return _role_name(name)
        target = p.get("targetPort", p.get("port"))
        if isinstance(target, str) and not target.isdigit():
            if target in self.head.container_ports:
                return self.head.role_of_number(self.head.container_ports[target])
            return _role_name(target)
        number = _int(target)
        if number is not None:
            role = self.head.role_of_number(number)
            if role is not None:
                return role
        if isinstance(name, str) and _role_name(name):
            return _role_name(name)
        number = _int(p.get("port"))
        return WELL_KNOWN_ROLES.get(number) if number is not None else None


@record(frozen=True)
class Declared:
    """An exposure a Ray CR asks KubeRay to create, which the inputs usually do not show."""

    field: FieldPath
    description: str
    roles: dict[str, int]  # role -> port
    kind: str  # "service" | "ingress"
    host: str | None = None  # the generated Ingress's host (ingressOptions.host)
    path: str | None = None  # and path (ingressOptions.path, default /)


# ---------------------------------------------------------------------------------------------
# Public API


def heads(objects: ObjectSet) -> tuple[Head, ...]:
    """Every Ray head the inputs show (KubeRay CRs and ``ray start --head`` workloads)."""
    return _index(objects).heads


def for_service(objects: ObjectSet, namespace: str, service: str,
                port: str | None = None) -> HeadService | None:
    """The Ray head ``namespace/service`` reaches, with confidence and evidence, or None.

    ``port`` is the port a route names; it only matters when nothing but port numbers can tell
    (a Service that is not in the inputs)."""
    index = _index(objects)
    found = index.services.get((namespace, service))
    if found is not None:
        return found
    return _by_name(objects, index, namespace, service, port)


def ray_of_service(objects: ObjectSet, namespace: str, service: str) -> KubeObject | None:
    """The KubeRay CR whose head (or Serve) Service ``namespace/service`` is, when certain."""
    found = for_service(objects, namespace, service)
    return found.ray if found is not None and found.certain else None


def is_known_kuberay_service(objects: ObjectSet, namespace: str, service: str) -> bool:
    """Whether an operator creates ``namespace/service`` for a head whose object is in the
    inputs: KubeRay for a CR (and its children), or the old Ray operator for a
    ``cluster.ray.io`` RayCluster. A name that merely looks like a head Service does not count."""
    found = for_service(objects, namespace, service)
    if found is None or found.confidence == POSSIBLE:
        return False
    return found.ray is not None or (found.head.source is not None
                                     and found.head.source.kind == "RayCluster")


def declared_exposures(objects: ObjectSet, cr: KubeObject) -> list[Declared]:
    """What ``cr`` asks KubeRay to publish outside the cluster, for the objects the inputs do
    not contain: a head Service of type LoadBalancer/NodePort (``headService.spec.type`` wins
    over ``serviceType``, and KubeRay appends its default ports to the user's ports:
    ``BuildServiceForHeadPod``), and the Ingress of ``enableIngress``."""
    if not kuberay.is_ray(cr):
        return []
    head = kuberay.cluster_spec(cr).get("headGroupSpec")
    if not isinstance(head, dict):
        return []
    base = head_group_path(cr)
    found: list[Declared] = []
    custom = head.get("headService") if isinstance(head.get("headService"), dict) else {}
    custom_spec = custom.get("spec") if isinstance(custom.get("spec"), dict) else {}
    custom_type = custom_spec.get("type")
    service_type = custom_type or head.get("serviceType")
    service_name = kuberay.head_service_name(cr)
    if service_type in ("LoadBalancer", "NodePort") and \
            objects.get("Service", cr.namespace, service_name) is None:
        roles: dict[str, int] = {}
        for p in _list(custom_spec.get("ports")):
            if isinstance(p, dict) and _int(p.get("port")) is not None:
                role = _role_name(str(p.get("name") or "")) or WELL_KNOWN_ROLES.get(_int(p["port"]))
                if role:
                    roles.setdefault(role, _int(p["port"]))  # type: ignore[arg-type]
        for name, number in kuberay.head_ports(cr).items():
            role = _role_name(name) or WELL_KNOWN_ROLES.get(number)
            if role:
                roles.setdefault(role, number)
        where = base + (("headService", "spec", "type") if custom_type else ("serviceType",))
        found.append(Declared(where, f"head Service {cr.namespace}/{service_name} of type "
                              f"{service_type}", roles, "service"))
    ingress = generated_ingress(cr)
    if ingress is not None and (cr.kind != "RayCluster" or objects.get(
            "Ingress", cr.namespace, ingress.name) is None):
        rule = ingress.spec["rules"][0]
        path = rule["http"]["paths"][0]
        found.append(Declared(base + ("enableIngress",),
                              f"the KubeRay-built Ingress {cr.namespace}/{ingress.name}",
                              {"dashboard": path["backend"]["service"]["port"]["number"]},
                              "ingress", host=rule.get("host"), path=path["path"]))
    return found


def generated_ingress(cr: KubeObject) -> KubeObject | None:
    """The Ingress KubeRay v1.7.0 builds for ``headGroupSpec.enableIngress: true``.

    Every annotation of the CR except ``kubernetes.io/ingress.class`` is copied onto it (a
    RayService's or RayJob's annotations reach its child RayCluster first:
    ``constructRayClusterForRayService`` / ``constructRayClusterForRayJob``), the class comes
    from that annotation, one rule routes ``ingressOptions.path`` (default ``/``, pathType
    ``Prefix``) on ``ingressOptions.host`` to the head Service's ``dashboard`` port. The result
    keeps the CR's origin, so findings about it can point at the CR."""
    if not kuberay.is_ray(cr):
        return None
    head = kuberay.cluster_spec(cr).get("headGroupSpec")
    if not isinstance(head, dict) or head.get("enableIngress") is not True:
        return None
    options = head.get("ingressOptions") if isinstance(head.get("ingressOptions"), dict) else {}
    annotations = {k: v for k, v in cr.annotations.items()
                   if k != "kubernetes.io/ingress.class"}
    if cr.kind == "RayCluster":
        cluster, service = cr.name, kuberay.head_service_name(cr)
    else:  # the child cluster's random suffix is unknown from the parent's spec
        cluster = f"{cr.name}-<hash>"
        service = f"{cluster}-head-svc"
    path: dict[str, Any] = {
        "path": options.get("path") if isinstance(options.get("path"), str) else "/",
        "pathType": options.get("pathType") if isinstance(options.get("pathType"), str)
        else "Prefix",
        "backend": {"service": {"name": service, "port": {
            "number": kuberay.head_ports(cr).get("dashboard", kuberay.DEFAULT_PORTS["dashboard"])}}},
    }
    rule: dict[str, Any] = {"http": {"paths": [path]}}
    if isinstance(options.get("host"), str) and options["host"]:
        rule["host"] = options["host"]
    spec: dict[str, Any] = {"rules": [rule]}
    if isinstance(options.get("tls"), list) and options["tls"]:
        spec["tls"] = options["tls"]
    ingress_class = cr.annotations.get("kubernetes.io/ingress.class")
    if isinstance(ingress_class, str) and ingress_class:
        spec["ingressClassName"] = ingress_class
    raw = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": _check_name(f"{cluster}-head-ingress"),
                        "namespace": cr.namespace, "annotations": annotations,
                        "labels": {"ray.io/cluster": cluster,
                                   "app.kubernetes.io/created-by": "kuberay-operator"}},
           "spec": spec}
    return KubeObject(raw, cr.origin)


def ingress_for_annotations(obj: KubeObject) -> tuple[KubeObject | None, str]:
    """The Ingress whose annotations the admission webhook will judge for ``obj``, and a note
    for messages: ``obj`` itself when it is an Ingress, the Ingress KubeRay builds when ``obj``
    is a Ray CR with ``enableIngress`` (its annotations are copied onto it), else None."""
    if obj.kind == "Ingress":
        return obj, ""
    ingress = generated_ingress(obj)
    if ingress is None:
        return None, ""
    return ingress, (f" (on the Ingress {ingress.namespace}/{ingress.name} that KubeRay builds "
                     f"for headGroupSpec.enableIngress: it copies every annotation of the "
                     f"{obj.kind} onto it)")


def head_group_path(obj: KubeObject) -> FieldPath:
    if obj.kind == "RayCluster":
        return ("spec", "headGroupSpec")
    return ("spec", "rayClusterConfig" if obj.kind == "RayService" else "rayClusterSpec",
            "headGroupSpec")


def ray_start_ports(command: str) -> dict[str, int] | None:
    """Role -> port of a ``ray start --head`` command line, or None if it starts no head.

    Flags accept ``--flag=value`` and ``--flag value`` (Ray's CLI is click); unset ports keep
    Ray's defaults, and ``--include-dashboard=false`` drops the Dashboard."""
    values = _head_flags(command)
    return None if values is None else _flags_to_ports(values)


def ray_start_flag(command: str, flag: str) -> str | None:
    """The value of ``flag`` on the ``ray start --head`` of a command line, if given."""
    values = _head_flags(command)
    return values.get(flag) if values is not None else None


def _head_flags(command: str) -> dict[str, str] | None:
    import shlex  # only for Ray head commands, not at every lint's start-up

    for segment in re.split(r"&&|\|\||;|\n|\|", command):
        try:
            words = shlex.split(segment, posix=True)
        except ValueError:
            words = segment.split()
        for i in range(len(words) - 1):
            if words[i] == "ray" and words[i + 1] == "start" or \
                    words[i].endswith("/ray") and words[i + 1] == "start":
                flags = words[i + 2:]
                if "--head" not in flags and not any(f.startswith("--head=") for f in flags):
                    continue
                return _flag_values(flags)
    return None


# ---------------------------------------------------------------------------------------------
# Index


@record
class _Index:
    """Ray heads and head Services of an object set, memoised on the set."""

    heads: tuple[Head, ...]
    services: dict[tuple[str, str], HeadService]
    rayservices: dict[str, list[KubeObject]]  # namespace -> RayServices and RayJobs


def _index(objects: ObjectSet) -> _Index:
    return objects.memo("model-heads", lambda: _build(objects))


def _build(objects: ObjectSet) -> _Index:
    found: list[Head] = []
    services: dict[tuple[str, str], HeadService] = {}
    parents: dict[str, list[KubeObject]] = {}

    def add(ns: str, name: str, head: Head, confidence: str, evidence: str) -> None:
        key = (ns, name)
        old = services.get(key)
        if old is None or _RANK[confidence] < _RANK[old.confidence]:
            services[key] = HeadService(ns, name, head, confidence, evidence,
                                        objects.get("Service", ns, name),
                                        serve=name.endswith("-serve-svc"))

    by_cluster: dict[tuple[str, str], Head] = {}
    for cr in kuberay.ray_clusters(objects):
        if cr.kind == "RayJob" and _selected_cluster(cr):
            continue  # runs on an existing RayCluster: KubeRay creates no head Service for it
        head = _kuberay_head(cr)
        found.append(head)
        ns = cr.namespace
        add(ns, kuberay.head_service_name(cr), head, CERTAIN,
            f"KubeRay's head Service of {cr.kind} {ns}/{cr.name}")
        if cr.kind == "RayCluster":
            by_cluster[(ns, cr.name)] = head
            if cr.annotations.get("ray.io/enable-serve-service") == "true":
                add(ns, f"{cr.name}-serve-svc", head, CERTAIN,
                    f"KubeRay's Serve Service of RayCluster {ns}/{cr.name}")
            continue
        parents.setdefault(ns, []).append(cr)
        if cr.kind == "RayService":
            add(ns, f"{cr.name}-serve-svc", head, CERTAIN,
                f"KubeRay's Serve Service of RayService {ns}/{cr.name}")
        children = _child_clusters(cr)
        for child in children:
            add(ns, f"{child}-head-svc", head, CERTAIN,
                f"the head Service of {cr.kind} {ns}/{cr.name}'s RayCluster {child}")
            if cr.kind == "RayService":
                add(ns, f"{child}-serve-svc", head, CERTAIN,
                    f"the Serve Service of RayService {ns}/{cr.name}'s RayCluster {child}")
    # A RayJob with a clusterSelector runs on that RayCluster: same head.
    for cr in objects.of_kind("RayJob"):
        name = _selected_cluster(cr)
        if kuberay.is_ray(cr) and name and (cr.namespace, name) not in by_cluster:
            rc_head = Head(cr.namespace, cr, None, CERTAIN,
                           f"RayCluster {name}, selected by RayJob {cr.namespace}/{cr.name}",
                           _roles(kuberay.DEFAULT_PORTS), "unknown",
                           f"RayCluster {cr.namespace}/{name} is not in the inputs")
            add(cr.namespace, f"{name}-head-svc", rc_head, CERTAIN,
                f"the head Service of RayCluster {name}, which RayJob {cr.namespace}/{cr.name} "
                "selects")
    # old Ray operator (deploy/charts/ray): cluster.ray.io/v1 RayCluster <name> -> <name>-ray-head
    for cr in objects.of_kind("RayCluster"):
        if cr.group == "cluster.ray.io":
            head = _legacy_head(cr)
            found.append(head)
            add(cr.namespace, f"{cr.name}-ray-head", head, LIKELY,
                f"the old Ray operator (deploy/charts/ray) names the head Service of "
                f"cluster.ray.io RayCluster {cr.namespace}/{cr.name} {cr.name}-ray-head")
    workloads = [h for h in (_command_head(o) for o in objects.of_kind(*_WORKLOAD_KINDS))
                 if h is not None]
    found.extend(workloads)
    for svc in objects.of_kind("Service"):
        key = (svc.namespace, svc.name)
        if key in services and services[key].certain:
            continue
        hs = _service_head(objects, svc, by_cluster, workloads)
        if hs is not None:
            add(svc.namespace, svc.name, hs.head, hs.confidence, hs.evidence)
    return _Index(tuple(found), services, parents)


def _by_name(objects: ObjectSet, index: _Index, namespace: str, service: str,
             port: str | None) -> HeadService | None:
    """Recognise a Service the inputs do not contain, from its name (or the port used)."""
    def memo_key() -> str:
        return f"model-heads-name:{namespace}/{service}"

    def compute() -> HeadService | None:
        for parent in index.rayservices.get(namespace, ()):
            pattern = rf"{re.escape(parent.name)}-(raycluster-)?{_SUFFIX}-(head|serve)-svc"
            if re.fullmatch(pattern, service) and (service.endswith("-head-svc")
                                                   or parent.kind == "RayService"):
                head = _kuberay_head(parent)
                return HeadService(namespace, service, head, CERTAIN,
                                   f"the name KubeRay gives a Service of {parent.kind} "
                                   f"{namespace}/{parent.name}'s RayCluster (<name>-<hash>)",
                                   serve=service.endswith("-serve-svc"))
        if objects.get("Service", namespace, service) is not None:
            return None  # a Service in the inputs was judged by what it is, not its name
        if service.endswith("-kuberay-head-svc"):
            return _unknown(namespace, service, LIKELY,
                            "named like the head Service of a RayCluster installed by KubeRay's "
                            "ray-cluster Helm chart (<release>-kuberay-head-svc)",
                            _roles(kuberay.DEFAULT_PORTS))
        if service.endswith("-head-svc"):
            return _unknown(namespace, service, LIKELY,
                            "named like a KubeRay head Service (<raycluster>-head-svc)",
                            _roles(kuberay.DEFAULT_PORTS))
        if service.endswith("-ray-head"):
            return _unknown(namespace, service, LIKELY,
                            "named like the head Service of the deprecated Ray Helm chart "
                            "(<release>-ray-head)")
        # A route's port number alone, to a Service raygate cannot see, is not enough: 10001
        # and 8265 are ordinary ports for other programs too.
        return None
    return objects.memo(memo_key(), compute)


def _unknown(namespace: str, service: str, confidence: str, evidence: str,
             ports: Mapping[str, int] = RAY_START_DEFAULTS) -> HeadService:
    head = Head(namespace, None, None, confidence, evidence, dict(ports),
                "unknown", "the head's workload is not in the inputs")
    return HeadService(namespace, service, head, confidence, evidence)


def _service_head(objects: ObjectSet, svc: KubeObject, by_cluster: Mapping[tuple[str, str], Head],
                  workloads: list[Head]) -> HeadService | None:
    ns = svc.namespace
    selector = svc.spec.get("selector") if isinstance(svc.spec.get("selector"), dict) else {}
    if svc.labels.get("ray.io/node-type") == "head" or selector.get("ray.io/node-type") == "head":
        cluster = selector.get("ray.io/cluster") or svc.labels.get("ray.io/cluster")
        head = by_cluster.get((ns, str(cluster))) if cluster else None
        what = "selects" if selector.get("ray.io/node-type") == "head" else "is labelled"
        evidence = f"Service {ns}/{svc.name} {what} ray.io/node-type: head (KubeRay's head label)"
        if head is None:
            head = Head(ns, svc, None, CERTAIN, evidence, dict(kuberay.DEFAULT_PORTS), "unknown",
                        "its RayCluster is not in the inputs")
        return HeadService(ns, svc.name, head, CERTAIN, evidence, svc)
    if selector:
        for head in workloads:
            if head.namespace == ns and head.source is not None and \
                    matches_selector(_pod_labels(head.source), selector):
                return HeadService(ns, svc.name, head, LIKELY,
                                   f"Service {ns}/{svc.name} selects {head.label}, "
                                   f"{head.evidence}", svc)
    if svc.name.endswith("-ray-head"):
        head = Head(ns, svc, None, LIKELY, "", dict(RAY_START_DEFAULTS), "unknown",
                    "the head's workload is not in the inputs")
        evidence = (f"Service {ns}/{svc.name} is named like the head Service of the deprecated "
                    "Ray Helm chart (<release>-ray-head)")
        return HeadService(ns, svc.name, head, LIKELY, evidence, svc)
    numbers = set()
    for p in _list(svc.spec.get("ports")):
        if isinstance(p, dict):
            for key in ("port", "targetPort"):
                n = _int(p.get(key))
                if n in (6379, 8265, 10001):
                    numbers.add(n)
    if numbers & set(_DISTINCT) or len(numbers) >= 2:
        listed = ", ".join(f"{n} ({WELL_KNOWN_ROLES[n]})" for n in sorted(numbers))
        evidence = f"only the port numbers of Service {ns}/{svc.name} suggest Ray: {listed}"
        head = Head(ns, svc, None, POSSIBLE, evidence, dict(RAY_START_DEFAULTS), "unknown",
                    "nothing in the inputs shows the program behind it")
        return HeadService(ns, svc.name, head, POSSIBLE, evidence, svc)
    return None


# ---------------------------------------------------------------------------------------------
# Heads


def _kuberay_head(cr: KubeObject) -> Head:
    mode = kuberay.auth_mode(cr)
    return Head(cr.namespace, cr, cr, CERTAIN, f"{cr.kind} {cr.namespace}/{cr.name} (KubeRay)",
                _roles(kuberay.head_ports(cr)), "token" if mode == "token" else "disabled",
                "KubeRay's spec.authOptions / RAY_AUTH_MODE", dict(kuberay.head_ports(cr)))


def _legacy_head(cr: KubeObject) -> Head:
    return Head(cr.namespace, cr, None, LIKELY,
                f"cluster.ray.io RayCluster {cr.namespace}/{cr.name} (old Ray operator)",
                dict(RAY_START_DEFAULTS) | {"serve": 8000}, "disabled",
                "the old Ray operator predates Ray token auth (2.52)")


def _selected_cluster(job: KubeObject) -> str | None:
    """The RayCluster a RayJob's ``clusterSelector`` names (``ray.io/cluster``), if any."""
    selector = job.spec.get("clusterSelector")
    name = selector.get("ray.io/cluster") if isinstance(selector, dict) else None
    return name if isinstance(name, str) and name else None


def _child_clusters(cr: KubeObject) -> list[str]:
    names = []
    if cr.kind == "RayService":
        for key in ("activeServiceStatus", "pendingServiceStatus"):
            status = cr.status.get(key)
            name = status.get("rayClusterName") if isinstance(status, dict) else None
            if isinstance(name, str) and name:
                names.append(name)
    elif cr.kind == "RayJob":
        name = cr.status.get("rayClusterName")
        if isinstance(name, str) and name:
            names.append(name)
    return names


def _roles(ports: Mapping[str, int]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for name, number in ports.items():
        role = _role_name(name) or WELL_KNOWN_ROLES.get(number)
        if role:
            roles.setdefault(role, number)
    return roles


def _role_name(name: str) -> str | None:
    if name in kuberay.DEFAULT_PORTS or name == "dashboard-agent":
        return name
    return {"gcs": "gcs-server", "ray-client": "client", "ray-dashboard": "dashboard",
            "ray-serve": "serve"}.get(name)


def _pod_spec(obj: KubeObject) -> Mapping[str, Any]:
    if obj.kind == "Pod":
        return obj.spec
    template = obj.spec.get("template")
    if obj.kind == "Job" or isinstance(template, dict):
        spec = template.get("spec") if isinstance(template, dict) else None
        return spec if isinstance(spec, dict) else {}
    return {}


def _pod_labels(obj: KubeObject) -> Mapping[str, Any]:
    if obj.kind == "Pod":
        return obj.labels
    template = obj.spec.get("template")
    meta = template.get("metadata") if isinstance(template, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


def _command_head(obj: KubeObject) -> Head | None:
    if obj.metadata.get("ownerReferences"):
        return None  # its owner (a Deployment, a StatefulSet, KubeRay's RayCluster) speaks for it
    for container in _list(_pod_spec(obj).get("containers")):
        if not isinstance(container, dict):
            continue
        words = [w for key in ("command", "args") for w in _list(container.get(key))
                 if isinstance(w, str)]
        text = " ".join(words)
        if "ray" not in text or "--head" not in text:
            continue
        ports = ray_start_ports(text)
        if ports is None:
            continue
        host = ray_start_flag(text, "--dashboard-host") or "127.0.0.1"
        named = {str(p["name"]): p["containerPort"] for p in _list(container.get("ports"))
                 if isinstance(p, dict) and isinstance(p.get("name"), str)
                 and isinstance(p.get("containerPort"), int)}
        auth, reason = _container_auth(container)
        flags = ", ".join(f"{role} {n}" for role, n in sorted(ports.items()))
        return Head(obj.namespace, obj, None, LIKELY,
                    f"{obj.kind} {obj.namespace}/{obj.name} runs `ray start --head` ({flags})",
                    ports, auth, reason, named, dashboard_host=host)
    return None


def _container_auth(container: Mapping[str, Any]) -> tuple[str, str]:
    """Token auth of a ``ray start --head`` container, as far as the inputs show it.

    ``RAY_AUTH_MODE`` always wins. Otherwise it follows the image's Ray version (facts:
    kuberay_ray.md §4.5): none before 2.52; off by default for ``ray start`` up to 2.58; in 2.59
    and 2.60 on only when a token is already present (``RAY_AUTH_TOKEN``/``RAY_AUTH_TOKEN_PATH``);
    from 2.61, or when the version or the environment cannot be read, unknown."""
    envs = {str(e.get("name")): e for e in _list(container.get("env")) if isinstance(e, dict)}
    mode = envs.get("RAY_AUTH_MODE")
    if mode is not None:
        value = str(mode.get("value") or "").strip().lower()
        if value == "token":
            return "token", "RAY_AUTH_MODE=token"
        if "valueFrom" in mode:
            return "unknown", "RAY_AUTH_MODE comes from a reference raygate cannot read"
        return "disabled", f"RAY_AUTH_MODE is {value or 'empty'!r}"
    if container.get("envFrom"):
        return "unknown", "its environment comes partly from envFrom, which raygate cannot read"
    image = container.get("image")
    version = _ray_version(image) if isinstance(image, str) else None
    if version is None:
        return "unknown", (f"no RAY_AUTH_MODE is set and the image {image!s} does not name a Ray "
                           "release")
    shown = ".".join(map(str, version))
    if version < TOKEN_AUTH_SINCE:
        return "disabled", f"image {image} is Ray {shown}, older than token auth (2.52)"
    if version < (2, 59):
        return "disabled", (f"image {image} is Ray {shown}, where token auth is off unless "
                            "RAY_AUTH_MODE=token")
    if version < (2, 61):
        if "RAY_AUTH_TOKEN" in envs or "RAY_AUTH_TOKEN_PATH" in envs:
            return "token", f"Ray {shown} turns token auth on for `ray start` when a token is set"
        return "disabled", (f"image {image} is Ray {shown}: `ray start --head` enables token "
                            "auth only when a token is already present, and none is set")
    return "unknown", (f"image {image} is Ray {shown}, whose token-auth default for `ray start` "
                       "raygate does not know")


def _ray_version(image: str) -> tuple[int, int] | None:
    name, _, tag = image.rpartition(":")
    if "ray" not in name.rsplit("/", 1)[-1] or "/" in tag:
        return None
    m = re.match(r"(\d+)\.(\d+)", tag)
    return (int(m.group(1)), int(m.group(2))) if m else None


#: Older names of ``ray start`` flags: Ray called the Dashboard the "web UI" until
#: ray-project/ray#8999 (June 2020, Ray 0.8.6) renamed ``--webui-host``/``--include-webui`` to
#: ``--dashboard-host``/``--include-dashboard``; heads started by such commands still run.
_FLAG_ALIASES = {"--webui-host": "--dashboard-host", "--include-webui": "--include-dashboard"}


def _flag_values(flags: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    i = 0
    while i < len(flags):
        word = flags[i]
        if word.startswith("--") and "=" in word:
            key, _, value = word.partition("=")
            values[_FLAG_ALIASES.get(key, key)] = value
        elif word.startswith("--") and i + 1 < len(flags) and not flags[i + 1].startswith("--"):
            values[_FLAG_ALIASES.get(word, word)] = flags[i + 1]
            i += 1
        i += 1
    return values


def _flags_to_ports(values: Mapping[str, str]) -> dict[str, int]:
    ports = dict(RAY_START_DEFAULTS)
    for flag, role in _START_FLAGS.items():
        number = _int(values.get(flag))
        if number is not None:
            ports[role] = number
    if values.get("--include-dashboard", "true").strip().lower() in ("false", "0", "no"):
        ports.pop("dashboard", None)
    return ports


def _check_name(name: str) -> str:
    """KubeRay's ``utils.CheckName`` (still applied to the Ingress name in v1.7.0)."""
    if len(name) > 50:
        name = name[len(name) - 50:]
    if name and not name[0].isalpha():
        name = "r" + name[1:]
    return name


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def iter_services(objects: ObjectSet) -> Iterable[HeadService]:
    """Every Service (in the inputs or named by a KubeRay CR) known to reach a head."""
    return _index(objects).services.values()


def ray_version(image: object) -> tuple[int, int] | None:
    """The Ray release an image names (``rayproject/ray:2.52.0-py310`` -> (2, 52)), or None."""
    return _ray_version(image) if isinstance(image, str) else None
