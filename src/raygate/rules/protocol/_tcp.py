"""Shared knowledge for the tcp-services rules (RG201-RG206): which ConfigMaps are stream maps,
which controllers read them, and what ports a referenced Service really has.

Several rules walk the same tcp-services entries and ask the same questions of the object set,
so the per-set work lives here, memoised once per ``ObjectSet``. The controller behaviour is
``getStreamServices()`` in ingress-nginx ``controller.go`` (facts: ingress_nginx.md §3.1-§3.3).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from raygate.backends import ingress_nginx as nginx
from raygate import kuberay
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record

#: Go's strconv.Atoi: optional sign, ASCII digits only. Python's int() is laxer (it strips
#: whitespace and accepts "1_0001" and non-ASCII digits), so keys are checked with this first.
ATOI_RE = re.compile(r"^[+-]?[0-9]+$")

TCP_DOC = "https://kubernetes.github.io/ingress-nginx/user-guide/exposing-tcp-udp-services/"
CLI_ARGS_DOC = "https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/"


def tcp_map_ids(objects: ObjectSet) -> frozenset[int]:
    """ids of the ConfigMaps that are tcp-services maps (by a controller flag or by name)."""
    return objects.memo("rg2-tcp-map-ids",
                        lambda: frozenset(id(cm) for cm in nginx.tcp_services_configmaps(objects)))


def is_tcp_map(objects: ObjectSet, obj: KubeObject) -> bool:
    return obj.kind == "ConfigMap" and id(obj) in tcp_map_ids(objects)


def entries(objects: ObjectSet, cm: KubeObject) -> list[nginx.TcpEntry]:
    """The parsed entries of a tcp-services map (parsed once per set and ConfigMap)."""
    cache = objects.memo("rg2-tcp-entries", dict)
    key = id(cm)
    if key not in cache:
        cache[key] = nginx.tcp_entries(cm)
    return cache[key]


def usable(entry: nginx.TcpEntry) -> bool:
    """An entry the controller gets as far as looking up a Service for."""
    return (entry.error is None and entry.external_port is not None
            and ATOI_RE.match(entry.key) is not None
            and entry.namespace is not None and entry.service is not None
            and bool(entry.port))


def readers(objects: ObjectSet, cm: KubeObject) -> list[nginx.Controller]:
    """Controllers in the inputs whose --tcp-services-configmap names ``cm``."""
    return nginx.controllers_reading(objects, cm)


def watch_namespace(controller: nginx.Controller) -> str | None:
    """The single namespace a controller's informers are scoped to, if restricted."""
    value = controller.flags.get("--watch-namespace")
    return value or None


def workload_ref(controller: nginx.Controller) -> str:
    w = controller.workload
    return f"{w.kind} {w.namespace}/{w.name}" if w is not None else "the assumed controller"


@record(frozen=True)
class BackendPorts:
    """The ports of a Service a tcp-services entry names, from the Service or from the Ray CR
    that KubeRay will create it for."""

    ports: tuple[Mapping[str, Any], ...]
    source: str  # "Service ns/name" or "RayCluster ns/name (head Service created by KubeRay)"
    service: KubeObject | None


def backend_ports(objects: ObjectSet, namespace: str, name: str) -> BackendPorts | None:
    """Ports of ``namespace/name`` as the controller will see them, or None when unknown."""
    svc = objects.get("Service", namespace, name)
    if svc is not None:
        raw = svc.spec.get("ports")
        ports = tuple(p for p in raw if isinstance(p, dict)) if isinstance(raw, list) else ()
        return BackendPorts(ports, f"Service {namespace}/{name}", svc)
    ray = _head_owners(objects).get((namespace, name))
    if ray is not None:
        # KubeRay's head Service: one TCP port per named head container port, targetPort equal
        # to the container port (facts: kuberay_ray.md §1.2).
        ports = tuple({"name": n, "port": p, "targetPort": p, "protocol": "TCP"}
                      for n, p in sorted(kuberay.head_ports(ray).items()))
        return BackendPorts(ports, f"{ray.kind} {namespace}/{ray.name} (head Service created by KubeRay)",
                            None)
    return None


def _head_owners(objects: ObjectSet) -> dict[tuple[str, str], KubeObject]:
    """(namespace, head Service name) -> the Ray CR KubeRay creates it for (first one wins,
    as in kuberay.owner_of_service), built once per set instead of a scan per entry."""
    def compute() -> dict[tuple[str, str], KubeObject]:
        owners: dict[tuple[str, str], KubeObject] = {}
        for rc in kuberay.ray_clusters(objects):
            owners.setdefault((rc.namespace, kuberay.head_service_name(rc)), rc)
        return owners
    return objects.memo("rg2-head-owners", compute)


def namespace_known(objects: ObjectSet, namespace: str) -> bool:
    """Whether the inputs describe ``namespace``'s Services: some Service or Ray CR lives there.

    Without that, a missing Service only means it was not given to raygate, not that it is
    missing in the cluster, so RG202 stays silent.
    """
    known = objects.memo("rg2-known-namespaces", lambda: frozenset(
        o.namespace for o in (*objects.of_kind("Service"), *kuberay.ray_clusters(objects))))
    return namespace in known


def port_protocol(port: Mapping[str, Any]) -> str:
    return str(port.get("protocol") or "TCP").upper()


def describe_ports(ports: Sequence[Mapping[str, Any]]) -> str:
    """``client 10001, dashboard 8265, dns 53/UDP`` for messages."""
    parts = []
    for p in ports:
        name = p.get("name")
        label = f"{name} {p.get('port')}" if isinstance(name, str) and name else str(p.get("port"))
        if port_protocol(p) != "TCP":
            label += f"/{port_protocol(p)}"
        parts.append(label)
    return ", ".join(parts) if parts else "no ports"


def as_int(value: Any) -> int | None:
    """A port number written as int (or a numeric string, as sloppy manifests do)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and ATOI_RE.match(value):
        return int(value)
    return None


def match_port(ports: Sequence[Mapping[str, Any]], port: str,
               protocol: str = "TCP") -> Mapping[str, Any] | None:
    """The port a tcp-services ``port`` field selects, exactly as the controller matches it:
    a number (strconv.Atoi succeeds) against ``spec.ports[].port``, anything else against
    ``spec.ports[].name``; the protocol must be the map's (facts: ingress_nginx.md §3.1)."""
    number = int(port) if ATOI_RE.match(port) else None
    for p in ports:
        if port_protocol(p) != protocol:
            continue
        if number is not None:
            if as_int(p.get("port")) == number:
                return p
        elif p.get("name") == port:
            return p
    return None


def known_dead(objects: ObjectSet, entry: nginx.TcpEntry) -> bool:
    """Whether the controller will drop this entry for a reason the inputs prove (RG201/RG202):
    then nothing listens on its port and later checks of the port would only add noise."""
    if not usable(entry):
        return True
    assert entry.namespace is not None and entry.service is not None and entry.port
    backend = backend_ports(objects, entry.namespace, entry.service)
    if backend is None:
        return namespace_known(objects, entry.namespace)
    if backend.service is not None and backend.service.spec.get("type") == "ExternalName":
        return False
    return match_port(backend.ports, entry.port) is None
