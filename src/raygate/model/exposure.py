"""Which Ray head ports are reachable from outside the cluster, and through what.

Several rules ask the same question from different angles: is the Dashboard exposed without
auth (RG104), is GCS exposed at all (RG105), is the Ray Client reachable when the Dashboard is
(RG205)? This module answers it once per object set. An ``Exposure`` is one path in from
outside: an Ingress backend (``http``), a tcp-services entry (``tcp``), or a head Service of
type LoadBalancer/NodePort or with externalIPs (``service``). Gateway API routes count too: an
HTTPRoute backendRef is ``http`` and a TCPRoute backendRef is ``tcp`` (``via`` is the route),
but only for a route with a ``parentRefs`` entry: a route attached to nothing is not reachable
(facts: gateway_api_metallb.md §2, §3). Each is resolved to the Ray port name it reaches
(``dashboard``, ``client``, ``serve``, ``gcs-server``...) when the inputs allow.
"""

from __future__ import annotations

from typing import Any, Mapping

from raygate import kuberay
from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane, heads
from raygate.objects import FieldPath, KubeObject, ObjectSet
from raygate.records import record, replace

#: Well-known Ray head ports, used when neither the Service nor the RayCluster is in the inputs.
WELL_KNOWN = {8265: "dashboard", 10001: "client", 6379: "gcs-server", 8000: "serve",
              8080: "metrics", kuberay.DASHBOARD_AGENT_PORT: "dashboard-agent"}


@record(frozen=True)
class Exposure:
    """One way a Ray head's port is reachable from outside: through what, to which Service port."""

    via: KubeObject
    field: FieldPath
    channel: str  # "http" | "tcp" | "service"
    namespace: str
    service: str
    port: str | None  # as written in the reference (number or name)
    ray_port: str | None  # dashboard / client / serve / gcs-server / ... when known
    ray: KubeObject | None  # the RayCluster/RayService/RayJob behind the Service, if known
    service_obj: KubeObject | None
    #: tcp-services key, Service nodePort/port, or the TCPRoute's Gateway listener port.
    external_port: int | None = None
    path: str | None = None
    host: str | None = None
    #: The Ray head the Service reaches, with the confidence and evidence (model/heads.py).
    head: heads.HeadService | None = None
    #: For Ingress exposures: the data plane that serves the route (``model.dataplane``).
    data_plane: "dataplane.DataPlane | None" = None

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


def exposures(objects: ObjectSet) -> tuple[Exposure, ...]:
    return objects.memo("ray-exposures",
                        lambda: tuple(_with_head(objects, e) for e in _compute(objects)))


def ray_exposures(objects: ObjectSet) -> tuple[Exposure, ...]:
    """Only the exposures that reach a Ray head."""
    return tuple(e for e in exposures(objects) if _is_ray_target(objects, e))


def _is_ray_target(objects: ObjectSet, e: Exposure) -> bool:
    return e.head is not None


def _with_head(objects: ObjectSet, e: Exposure) -> Exposure:
    """Attach the Ray head the exposure's Service reaches (model/heads.py), and the Ray role of
    the port when only the head's own ports can tell it (a plain ``ray start --head`` pod)."""
    head = heads.for_service(objects, e.namespace, e.service, e.port)
    if head is None:
        return e
    ray_port = e.ray_port
    if e.ray is None or ray_port is None:
        ray_port = head.role(e.port) or ray_port
    return replace(e, head=head, ray_port=ray_port, ray=e.ray or head.ray)


def _ray_port_name(objects: ObjectSet, svc: KubeObject | None, ray: KubeObject | None,
                   port: str | None) -> str | None:
    if port is None:
        return None
    if svc is not None:
        p = nginx.resolve_service_port(svc, port)
        if p is not None:
            if isinstance(p.get("name"), str) and p["name"] in kuberay.DEFAULT_PORTS:
                return p["name"]
            target = p.get("targetPort")
            if isinstance(target, str):
                return target
            number = p.get("port")
            if isinstance(number, int):
                return _name_for_number(ray, number, target)
        return None
    if not port.isdigit():
        return port
    return _name_for_number(ray, int(port), None)


def _name_for_number(ray: KubeObject | None, number: int, target: Any) -> str | None:
    if ray is not None:
        for name, value in kuberay.head_ports(ray).items():
            if value == number or value == target:
                return name
    return WELL_KNOWN.get(number) or (WELL_KNOWN.get(target) if isinstance(target, int) else None)


def _compute(objects: ObjectSet) -> list[Exposure]:
    found: list[Exposure] = []
    for ing in objects.of_kind("Ingress"):
        if not nginx.is_ingress(ing):
            continue
        entries: list[tuple[FieldPath, Mapping[str, Any], str | None]] = list(nginx.ingress_paths(ing))
        default = ing.spec.get("defaultBackend") or ing.spec.get("backend")
        if isinstance(default, dict):
            entries.append((("spec", "defaultBackend"), {"backend": default, "path": "/"}, None))
        plane = dataplane.for_ingress(objects, ing)
        for field, entry, host in entries:
            name, port = nginx.backend_service(entry)
            if not isinstance(name, str):
                continue
            svc = objects.get("Service", ing.namespace, name)
            ray = kuberay.owner_of_service(objects, ing.namespace, name)
            found.append(Exposure(ing, field + ("backend",), "http", ing.namespace, name, port,
                                  _ray_port_name(objects, svc, ray, port), ray, svc,
                                  path=entry.get("path"), host=host, data_plane=plane))
    for cm in nginx.tcp_services_configmaps(objects):
        for entry in nginx.tcp_entries(cm):
            if entry.error or entry.namespace is None or entry.service is None:
                continue
            svc = objects.get("Service", entry.namespace, entry.service)
            ray = kuberay.owner_of_service(objects, entry.namespace, entry.service)
            found.append(Exposure(cm, entry.field, "tcp", entry.namespace, entry.service,
                                  entry.port, _ray_port_name(objects, svc, ray, entry.port), ray,
                                  svc, external_port=entry.external_port))
    for svc in objects.of_kind("Service"):
        outside = svc.spec.get("type") in ("LoadBalancer", "NodePort") or bool(svc.spec.get("externalIPs"))
        if not outside:
            continue
        ray = kuberay.owner_of_service(objects, svc.namespace, svc.name)
        ports = svc.spec.get("ports") or []
        for i, p in enumerate(ports if isinstance(ports, list) else []):
            if not isinstance(p, dict):
                continue
            port = str(p.get("port")) if p.get("port") is not None else None
            found.append(Exposure(svc, ("spec", "ports", i), "service", svc.namespace, svc.name,
                                  port, _ray_port_name(objects, svc, ray, port), ray, svc,
                                  external_port=p.get("nodePort") or p.get("port")))
    found.extend(_gateway_api_routes(objects))
    return found


GATEWAY_GROUP = "gateway.networking.k8s.io"


def _gateway_api_routes(objects: ObjectSet) -> list[Exposure]:
    """HTTPRoute, TCPRoute and TLSRoute backendRefs to Services, for routes attached to a
    parent. A TLSRoute forwards the TLS stream itself (Passthrough: the gateway only reads the
    SNI; KubeRay's Ray Client guidance), so, like a TCPRoute, it is a raw TCP way in."""
    found: list[Exposure] = []
    for route in objects.of_kind("HTTPRoute", "TCPRoute", "TLSRoute"):
        if not route.api_version.startswith(GATEWAY_GROUP + "/"):
            continue
        parents = route.spec.get("parentRefs")
        if not isinstance(parents, list) or not any(isinstance(p, dict) for p in parents):
            continue  # attached to nothing: no listener routes traffic to it
        http = route.kind == "HTTPRoute"
        host = _first_hostname(route) if http else None
        external = None if http else _listener_port(objects, route, parents)
        rules = route.spec.get("rules")
        for i, r in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(r, dict):
                continue
            path = _rule_path(r) if http else None
            refs = r.get("backendRefs")
            for j, ref in enumerate(refs if isinstance(refs, list) else []):
                if not isinstance(ref, dict) or ref.get("kind", "Service") != "Service" \
                        or ref.get("group", "") not in ("", None):
                    continue
                name = ref.get("name")
                if not isinstance(name, str) or not name:
                    continue
                ns = ref.get("namespace")
                ns = ns if isinstance(ns, str) and ns else route.namespace
                number = ref.get("port")
                port = str(number) if isinstance(number, int) and not isinstance(number, bool) \
                    else None
                svc = objects.get("Service", ns, name)
                ray = kuberay.owner_of_service(objects, ns, name)
                found.append(Exposure(route, ("spec", "rules", i, "backendRefs", j),
                                      "http" if http else "tcp", ns, name, port,
                                      _ray_port_name(objects, svc, ray, port), ray, svc,
                                      external_port=external, path=path, host=host))
    return found


def _first_hostname(route: KubeObject) -> str | None:
    hostnames = route.spec.get("hostnames")
    if isinstance(hostnames, list):
        for h in hostnames:
            if isinstance(h, str) and h:
                return h
    return None


def _rule_path(rule: Mapping[str, Any]) -> str | None:
    """The first PathPrefix/Exact match value; a rule without matches matches PathPrefix /."""
    matches = rule.get("matches")
    if not isinstance(matches, list) or not matches:
        return "/"
    for m in matches:
        p = m.get("path") if isinstance(m, dict) else None
        if p is None and isinstance(m, dict):
            return "/"  # a match without a path matches every path (PathPrefix /)
        if isinstance(p, dict) and p.get("type", "PathPrefix") in ("PathPrefix", "Exact"):
            value = p.get("value", "/")
            return value if isinstance(value, str) else None
    return None


def _listener_port(objects: ObjectSet, route: KubeObject, parents: list[Any]) -> int | None:
    """The port of the Gateway listener a TCPRoute attaches to, when the Gateway is known."""
    for ref in parents:
        if not isinstance(ref, dict) or ref.get("kind", "Gateway") != "Gateway" \
                or ref.get("group", GATEWAY_GROUP) != GATEWAY_GROUP:
            continue
        port = ref.get("port")
        if isinstance(port, int) and not isinstance(port, bool):
            return port
        section = ref.get("sectionName")
        name = ref.get("name")
        if not isinstance(section, str) or not isinstance(name, str):
            continue
        ns = ref.get("namespace")
        gw = objects.get("Gateway", ns if isinstance(ns, str) and ns else route.namespace, name)
        listeners = gw.spec.get("listeners") if gw is not None else None
        for listener in listeners if isinstance(listeners, list) else []:
            if isinstance(listener, dict) and listener.get("name") == section:
                number = listener.get("port")
                if isinstance(number, int) and not isinstance(number, bool):
                    return number
    return None
