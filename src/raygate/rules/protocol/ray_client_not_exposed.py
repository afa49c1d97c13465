"""RG205 ray-client-not-exposed: the Dashboard of a Ray head is exposed, its Ray Client port not.

The seed guide's second root cause: HTTP worked through the Ingress, but the Ray TCP ports were
never mapped, so ``ray.init("ray://...")`` had nothing to talk to. The Ray Client is gRPC on the
head Service's ``client`` port (10001 by default; facts: kuberay_ray.md §1.2, §6) and needs a
path that carries gRPC whole: a tcp-services entry (ingress_nginx.md §3.1), a Gateway API
TCPRoute (gateway_api_metallb.md §3) or TLSRoute, a GRPCRoute (an L7 gRPC proxy carries it, see
``CLIENT_CHANNELS``) or a LoadBalancer/NodePort Service. An HTTP Ingress path or HTTPRoute does
not count: gRPC cannot be path-routed (kuberay_ray.md §6; RG212 reports that for Ingresses).
A dead address fails only after 30 s with ``ConnectionError: ray client connection timeout``
(feasibility.md, "Ray Client timeouts").

A head whose Ray CR asks KubeRay for a LoadBalancer/NodePort head Service (``headService`` or
``serviceType``) has its client port published with the other default ports
(``common/service.go: BuildServiceForHeadPod`` at v1.7.0), as RG104 reports: not flagged here.
Heads KubeRay does not run are recognised by model/heads.py, and the message states how sure
that is.

A head whose Service (or Ray CR) has no ``client`` port at all is left alone: there is nothing to
expose, and leaving it out is a deliberate choice.

Severity follows what happens to the user. Ray documents the Jobs API as the way to submit work
and marks the Ray Client as limited ("not actively maintained" in KubeRay's docs; facts:
kuberay_ray.md §6), so most Dashboard exposures never need it: information only. It is a warning
when the inputs show the Ray Client in use for this head: a route to its ``client`` port (an
HTTP one, or one through another gateway: RG212 explains why HTTP fails), ``ray://`` in a container command, args or env of a
Pod, Job, CronJob, Deployment, StatefulSet, DaemonSet or ReplicaSet, or in a RayJob's entrypoint
or submitter, or a raygate ``RayGateway`` spec with ``exposures.rayClient.enabled``; a workload
or spec counts when it is in the head's namespace or its ``ray://`` address names the head
Service or the route's host (a client route of another cluster says nothing about this one).
"""

from __future__ import annotations

import re
from typing import Iterable

from raygate.backends.gateway_api import api as gateway_api
from raygate.model import exposure as exp
from raygate.model import heads
from raygate.backends import ingress_nginx as nginx
from raygate import kuberay
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record
from raygate.rules import Context, rule
from raygate.rules.protocol import _tcp

Key = tuple[str, ...]
CLIENT_TIMEOUT = "ConnectionError: ray client connection timeout"


@rule(
    code="RG205",
    name="ray-client-not-exposed",
    layer="protocol",
    severity="info",
    kinds=("Ingress", "ConfigMap", "Service") + gateway_api.EXPOSING_ROUTE_KINDS,
    title="Ray Dashboard is exposed but the Ray Client port is not",
    rationale="""
        The Ray Client (`ray.init("ray://host:port")`) speaks gRPC to the head Service's
        `client` port (10001). An HTTP Ingress carries the Dashboard and the Jobs API, but not
        the Ray Client: it needs a raw TCP path, which with ingress-nginx is a tcp-services
        entry, with Gateway API a TCP listener and a TCPRoute (or, with either, a
        LoadBalancer/NodePort Service). When only the Dashboard is exposed, users
        who try the Ray Client wait 30 seconds and get `ConnectionError: ray client connection
        timeout`, with nothing in the controller logs because nothing listens. Expose the client
        port over TCP, or tell users to submit work through the Jobs API instead. Ray
        recommends the Jobs API, so this is information unless the inputs show the Ray Client
        in use (a client port route, `ray://` in a workload or RayJob, a raygate spec asking
        for it); then it is a warning.
    """,
    fix=("Map the head Service's client port in the tcp-services ConfigMap the controller reads, "
         "e.g. \"10001\": \"<namespace>/<head-svc>:client\" (with Gateway API: a TCP listener "
         "and a TCPRoute to the head Service's port 10001)."),
    references=(
        "https://docs.ray.io/en/latest/cluster/running-applications/job-submission/ray-client.html",
        _tcp.TCP_DOC,
    ),
    errors=(CLIENT_TIMEOUT,),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    dashboards = _dashboards_by_via(ctx.objects).get(id(obj))
    if not dashboards:
        return
    covered = _client_keys(ctx.objects)
    seen: set[Key] = set()
    for e in dashboards:
        keys = _keys(e)
        if keys & covered or not _has_client_port(ctx.objects, e):
            continue
        head = ("svc", e.namespace, e.service)
        if head in seen:
            continue  # one finding per head and exposing object
        seen.add(head)
        http_only = any(keys & _keys(c) for c in _client_http(ctx.objects)
                        if c.via.kind == "Ingress")
        note = (" (an Ingress routes HTTP to the client port, but the Ray Client's gRPC cannot be "
                "path-routed: see RG212)") if http_only else ""
        ray = e.ray or _cluster_by_selector(ctx.objects, e)
        head_svc = kuberay.head_service_name(ray) if ray is not None else e.service
        evidence = "an Ingress routes HTTP to its client port" if http_only else \
            _client_use(ctx.objects, e, head_svc)
        use = (f"; the inputs show Ray Client use ({evidence})" if evidence else
               "; nothing in the inputs uses the Ray Client (Ray recommends the Jobs API, "
               "which this route serves)")
        certainty = e.head.note() if e.head is not None else ""
        yield ctx.finding(
            obj, e.field,
            f"the Dashboard of Ray head {e.namespace}/{head_svc} is exposed here, but its "
            f"client port is not: no tcp-services entry, TCPRoute or LoadBalancer/NodePort "
            f"Service reaches it{note}, so ray.init(\"ray://<gateway>:10001\") fails with "
            f"{CLIENT_TIMEOUT}{certainty}{use}",
            fix=_fix(ctx.objects, e), severity="warning" if evidence else "info",
            client_use=evidence)


def _dashboards_by_via(objects: ObjectSet) -> dict[int, list[exp.Exposure]]:
    def compute() -> dict[int, list[exp.Exposure]]:
        found: dict[int, list[exp.Exposure]] = {}
        for e in exp.ray_exposures(objects):
            # A GRPCRoute to the Dashboard carries no request to it (RG268): not exposed.
            if e.ray_port == "dashboard" and exp.carries_requests(e, "dashboard"):
                found.setdefault(id(e.via), []).append(e)
        return found
    return objects.memo("rg205-dashboards", compute)


def _client_keys(objects: ObjectSet) -> frozenset[Key]:
    """Heads whose client port some L4 path reaches: an exposure in the inputs, or a head
    Service the Ray CR asks KubeRay to publish (``headService``/``serviceType`` of type
    LoadBalancer/NodePort, with the client port among the defaults KubeRay appends), so RG205
    and RG104 agree on what is exposed."""
    def compute() -> frozenset[Key]:
        keys = {k for e in exp.ray_exposures(objects)
                if e.ray_port == "client" and e.channel in CLIENT_CHANNELS for k in _keys(e)}
        for ray in kuberay.ray_clusters(objects):
            if any(d.kind == "service" and "client" in d.roles
                   for d in heads.declared_exposures(objects, ray)):
                keys |= _ray_keys(ray)
                keys.add(("svc", ray.namespace, kuberay.head_service_name(ray)))
        return frozenset(keys)
    return objects.memo("rg205-client-keys", compute)


#: The channels that carry the Ray Client: a byte stream (tcp-services, TCPRoute, TLSRoute,
#: an outside Service), and a GRPCRoute, since the Ray Client is a gRPC service
#: (``ray.rpc.RayletDriver`` and friends, ``python/ray/util/client``) that an L7 gRPC proxy
#: carries: Ray's own docs run it through nginx's gRPC proxy ("Connection through the
#: Ingress", ray-project/ray#17736), KubeRay's sample through ingress-nginx
#: ``backend-protocol: GRPC`` (facts: kuberay_ray.md §3, §6). An HTTP Ingress path does not
#: count (RG212).
CLIENT_CHANNELS = ("tcp", "service", "grpc")


def _ray_keys(ray: KubeObject) -> set[Key]:
    keys: set[Key] = {("ray", ray.namespace, ray.kind, ray.name)}
    if ray.kind == "RayCluster":
        keys.add(("cluster", ray.namespace, ray.name))
    return keys


def _client_http(objects: ObjectSet) -> tuple[exp.Exposure, ...]:
    return objects.memo("rg205-client-http", lambda: tuple(
        e for e in exp.ray_exposures(objects) if e.ray_port == "client" and e.channel == "http"))


def _keys(e: exp.Exposure) -> frozenset[Key]:
    """Ways to recognise the same Ray head: its Service, its Ray CR, its cluster selector."""
    keys: set[Key] = {("svc", e.namespace, e.service)}
    if e.ray is not None:
        keys |= _ray_keys(e.ray)
    if e.head is not None and e.head.head.source is not None and e.ray is None:
        src = e.head.head.source  # the same plain head behind several Services
        keys.add(("head", src.namespace, src.kind, src.name))
    if e.service_obj is not None:
        selector = e.service_obj.spec.get("selector")
        if isinstance(selector, dict) and isinstance(selector.get("ray.io/cluster"), str):
            keys.add(("cluster", e.namespace, selector["ray.io/cluster"]))
    return frozenset(keys)


def _has_client_port(objects: ObjectSet, e: exp.Exposure) -> bool:
    """Whether the head offers a Ray Client port at all (unknown counts as yes)."""
    ray = e.ray or _cluster_by_selector(objects, e)
    if ray is not None:
        return "client" in kuberay.head_ports(ray)
    if e.head is not None and e.head.head.source is not None and e.head.head.ray is None \
            and e.head.confidence == "likely" and "client" not in e.head.head.ports:
        return False
    if e.channel == "service":
        return True  # a hand-made outside Service may carry only some of the head's ports
    backend = _tcp.backend_ports(objects, e.namespace, e.service)
    if backend is None:
        return True
    return any(p.get("name") == "client" or p.get("targetPort") == "client"
               or _tcp.as_int(p.get("port")) == kuberay.DEFAULT_PORTS["client"]
               for p in backend.ports)


def _cluster_by_selector(objects: ObjectSet, e: exp.Exposure) -> KubeObject | None:
    selector = e.service_obj.spec.get("selector") if e.service_obj is not None else None
    name = selector.get("ray.io/cluster") if isinstance(selector, dict) else None
    if not isinstance(name, str):
        return None
    rc = objects.get("RayCluster", e.namespace, name)
    return rc if rc is not None and kuberay.is_ray(rc) else None


def _fix(objects: ObjectSet, e: exp.Exposure) -> str:
    ray = e.ray or _cluster_by_selector(objects, e)
    service = kuberay.head_service_name(ray) if ray is not None else e.service
    backend = _tcp.backend_ports(objects, e.namespace, service)
    if e.via.kind in gateway_api.EXPOSING_ROUTE_KINDS:
        # A TCPRoute backendRef takes a port number, not a name.
        named = [_tcp.as_int(p.get("port")) for p in (backend.ports if backend else ())
                 if p.get("name") == "client"]
        number = next((n for n in named if n), None) or \
            (kuberay.head_ports(ray).get("client") if ray is not None else None) or \
            kuberay.DEFAULT_PORTS["client"]
        return (f"Add a TCP listener (e.g. port 10001) to {_parent_gateway(e.via)} and a TCPRoute "
                f"attached to it (parentRefs sectionName) with a backendRef to "
                f"{e.namespace}/{service} port {number}, or point Ray Client users at the Jobs "
                "API instead.")
    plane = e.data_plane
    if plane is not None and not plane.is_ingress_nginx and plane.profile is not None \
            and plane.profile.tcp_knob:
        # Another controller serves the Dashboard route: its own way to carry TCP.
        return (f"Expose {e.namespace}/{service} port 10001 over TCP with "
                f"{plane.profile.tcp_knob}, or point Ray Client users at the Jobs API instead.")
    port = "client"
    if backend is not None and not any(p.get("name") == "client" for p in backend.ports):
        port = str(kuberay.DEFAULT_PORTS["client"])
    maps = [f"{c.tcp_services_ref}" for c in nginx.find_controllers(objects) if c.tcp_services_ref]
    where = f"ConfigMap {maps[0]}" if maps else "the tcp-services ConfigMap the controller reads"
    return (f'Add "10001": "{e.namespace}/{service}:{port}" to {where}, or point Ray Client '
            "users at the Jobs API instead.")


def _parent_gateway(route: KubeObject) -> str:
    parents = route.spec.get("parentRefs")
    for ref in parents if isinstance(parents, list) else []:
        if isinstance(ref, dict) and isinstance(ref.get("name"), str) \
                and ref.get("kind", "Gateway") == "Gateway":
            ns = ref.get("namespace") if isinstance(ref.get("namespace"), str) else route.namespace
            return f"Gateway {ns}/{ref['name']}"
    return "the Gateway this route attaches to"


#: Workload kinds whose containers may run a Ray Client driver, and where their pod spec is.
_POD_SPECS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Job": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "RayJob": ("spec", "submitterPodTemplate", "spec"),
}
RAY_CLIENT_SCHEME = "ray://"


@record(frozen=True)
class _Use:
    """One sign of Ray Client use: where it is, and the ``ray://`` addresses it names."""

    namespace: str
    text: str
    addresses: tuple[str, ...] = ()
    #: For a route to a client port: the head it reaches (see ``_keys``).
    head: frozenset[Key] = frozenset()

    def concerns(self, e: exp.Exposure, head_svc: str) -> bool:
        """Whether it is about this head: a client route to the same head; a workload in its
        namespace, or whose ``ray://`` address names the head Service or the route's host."""
        if self.head:
            return bool(self.head & _keys(e))
        if self.namespace == e.namespace:
            return True
        names = {head_svc, e.service} | ({e.host} if isinstance(e.host, str) and e.host else set())
        return any(name in a for a in self.addresses for name in names)


def _client_use(objects: ObjectSet, e: exp.Exposure, head_svc: str) -> str | None:
    """What in the inputs shows the Ray Client in use for this head, or None."""
    uses = objects.memo("rg205-client-uses", lambda: tuple(_find_client_uses(objects)))
    return next((u.text for u in uses if u.concerns(e, head_svc)), None)


def _find_client_uses(objects: ObjectSet) -> Iterable[_Use]:
    for e in exp.ray_exposures(objects):
        if e.ray_port == "client":
            yield _Use(e.namespace, f"{e.via.kind} {e.via.namespace}/{e.via.name} routes to "
                                    f"the client port of {e.namespace}/{e.service}",
                       head=_keys(e))
    for obj in objects.of_kind(*_POD_SPECS):
        if obj.kind == "RayJob":
            entry = str(obj.spec.get("entrypoint") or "")
            if RAY_CLIENT_SCHEME in entry:
                yield _Use(obj.namespace, f"RayJob {obj.namespace}/{obj.name} entrypoint uses "
                                          "ray://", _addresses([entry]))
        pod = obj.get(*_POD_SPECS[obj.kind])
        words = _pod_words(pod) if isinstance(pod, dict) else []
        addresses = _addresses(words)
        if addresses:
            yield _Use(obj.namespace, f"{obj.kind} {obj.namespace}/{obj.name} connects with "
                                      "ray://", addresses)
    for gw in objects.of_kind("RayGateway"):
        exposures = gw.spec.get("exposures")
        client = exposures.get("rayClient", exposures.get("ray_client")) \
            if isinstance(exposures, dict) else None
        if not isinstance(client, dict) or client.get("enabled", True) is not False:
            cluster = gw.spec.get("rayCluster")
            ns = cluster.get("namespace") if isinstance(cluster, dict) else None
            yield _Use(ns if isinstance(ns, str) else gw.namespace,
                       f"RayGateway {gw.namespace}/{gw.name} asks for the Ray Client")


def _addresses(words: Iterable[object]) -> tuple[str, ...]:
    """Every ``ray://...`` address in the words (up to the next space or quote)."""
    found: list[str] = []
    for w in words:
        if not isinstance(w, str):
            continue
        for part in w.split(RAY_CLIENT_SCHEME)[1:]:
            found.append(RAY_CLIENT_SCHEME + re.split(r"[\s'\"]", part, maxsplit=1)[0])
    return tuple(found)


def _pod_words(pod: dict) -> list[object]:
    words: list[object] = []
    for key in ("containers", "initContainers"):
        containers = pod.get(key)
        for c in containers if isinstance(containers, list) else []:
            if not isinstance(c, dict):
                continue
            for k in ("command", "args"):
                if isinstance(c.get(k), list):
                    words.extend(c[k])
            envs = c.get("env")
            words += [env.get("value") for env in (envs if isinstance(envs, list) else [])
                      if isinstance(env, dict)]
    return words
