"""Which Ray head ports are reachable from outside the cluster, and through what.

Several rules ask the same question from different angles: is the Dashboard exposed without
auth (RG104), is GCS exposed at all (RG105), is the Ray Client reachable when the Dashboard is
(RG205)? This module answers it once per object set. An ``Exposure`` is one path in from
outside: an Ingress backend (``http``), a tcp-services entry (``tcp``), or a head Service of
type LoadBalancer/NodePort or with externalIPs (``service``). Gateway API routes count too, on
the channel their kind carries (``api.ROUTE_CHANNELS``): an HTTPRoute backendRef is ``http``, a
TCPRoute or TLSRoute backendRef ``tcp``, a GRPCRoute backendRef ``grpc`` (``via`` is the route),
but only for a route with a ``parentRefs`` entry: a route attached to nothing is not reachable
(facts: gateway_api_metallb.md §2, §3). Each is resolved to the Ray port name it reaches
(``dashboard``, ``client``, ``serve``, ``gcs-server``...) when the inputs allow.

A ``grpc`` exposure carries gRPC calls only: the gateway speaks HTTP/2 to the backend, so it
reaches Ray's gRPC servers (Ray Client 10001, GCS 6379, a Serve gRPC proxy) and nothing of the
HTTP/1.1 servers (``HTTP1_ONLY_ROLES``); ``carries_requests`` says which.
"""

from __future__ import annotations

from typing import Any, Mapping

from raygate import kuberay
from raygate.backends import ingress_nginx as nginx
from raygate.backends.gateway_api import api as gateway_api
from raygate.model import dataplane, heads
from raygate.objects import FieldPath, KubeObject, ObjectSet
from raygate.records import record, replace

#: Well-known Ray head ports, used when neither the Service nor the RayCluster is in the inputs.
WELL_KNOWN = {8265: "dashboard", 10001: "client", 6379: "gcs-server", 8000: "serve",
              8080: "metrics", kuberay.DASHBOARD_AGENT_PORT: "dashboard-agent"}

#: Ray head ports whose servers speak HTTP/1.1 only, so a gRPC hop (HTTP/2 to the backend, as
#: gRPC requires: grpc/grpc ``doc/PROTOCOL-HTTP2.md``) gets no request through to them: the
#: Dashboard and the dashboard agent (aiohttp, ``python/ray/dashboard/http_server_head.py``,
#: ``http_server_agent.py``), Serve's HTTP proxy (uvicorn, HTTP/1.1 only,
#: ``python/ray/serve/_private/http_util.py``) and the metrics exporter (``prometheus_client``'s
#: ``http.server``). Ray Client, GCS and Serve's gRPC proxy (``grpc_options.port``, 9000 by
#: default, ``python/ray/serve/config.py: gRPCOptions``) are gRPC servers.
HTTP1_ONLY_ROLES = frozenset({"dashboard", "dashboard-agent", "serve", "metrics"})


@record(frozen=True)
class Exposure:
    """One way a Ray head's port is reachable from outside: through what, to which Service port."""

    via: KubeObject
    field: FieldPath
    channel: str  # "http" | "grpc" | "tcp" | "service"
    namespace: str
    service: str
    port: str | None  # as written in the reference (number or name)
    ray_port: str | None  # dashboard / client / serve / gcs-server / ... when known
    ray: KubeObject | None  # the RayCluster/RayService/RayJob behind the Service, if known
    service_obj: KubeObject | None
    #: tcp-services key, Service nodePort/port, or the TCPRoute/TLSRoute/GRPCRoute's Gateway
    #: listener port.
    external_port: int | None = None
    #: The request path an Ingress/HTTPRoute rule matches; for a GRPCRoute the gRPC method path
    #: it matches (``/service/method``, ``/service/`` for a whole service, ``/`` for every call).
    path: str | None = None
    host: str | None = None
    #: The Ray head the Service reaches, with the confidence and evidence (model/heads.py).
    head: heads.HeadService | None = None
    #: For Ingress exposures: the data plane that serves the route (``model.dataplane``).
    data_plane: "dataplane.DataPlane | None" = None

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


def carries_requests(e: Exposure, role: str | None) -> bool:
    """Whether a request through ``e`` gets to the server behind a port of Ray ``role``: not a
    gRPC hop to an HTTP/1.1-only server (it answers the HTTP/2 preface with an error, so no call
    runs there; RG268 reports such a route as broken)."""
    return not (e.channel == "grpc" and role in HTTP1_ONLY_ROLES)


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
    """HTTPRoute, GRPCRoute, TCPRoute and TLSRoute backendRefs to Services, for routes attached
    to a parent. A TLSRoute forwards the TLS stream itself (Passthrough: the gateway only reads
    the SNI; KubeRay's Ray Client guidance), so, like a TCPRoute, it is a raw TCP way in. A
    GRPCRoute (standard channel since Gateway API v1.1, ``apis/v1/grpcroute_types.go``) carries
    gRPC calls, matched by host name and ``/service/method``; its clients dial the listener's
    port, so that is kept like a TCPRoute's."""
    found: list[Exposure] = []
    for route in objects.of_kind(*gateway_api.EXPOSING_ROUTE_KINDS):
        if not route.api_version.startswith(GATEWAY_GROUP + "/"):
            continue
        parents = route.spec.get("parentRefs")
        if not isinstance(parents, list) or not any(isinstance(p, dict) for p in parents):
            continue  # attached to nothing: no listener routes traffic to it
        channel = gateway_api.ROUTE_CHANNELS[route.kind]
        host = _first_hostname(route) if channel != "tcp" else None
        external = None if channel == "http" else _listener_port(objects, route, parents)
        rules = route.spec.get("rules")
        for i, r in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(r, dict):
                continue
            path = _rule_path(r) if channel == "http" else \
                _grpc_method_path(r) if channel == "grpc" else None
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
                found.append(Exposure(route, ("spec", "rules", i, "backendRefs", j), channel,
                                      ns, name, port, _ray_port_name(objects, svc, ray, port),
                                      ray, svc, external_port=external, path=path, host=host))
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


def _grpc_method_path(rule: Mapping[str, Any]) -> str | None:
    """The gRPC method path the rule's first method match selects: ``/service/method`` for an
    Exact match of both, ``/service/`` for a service, ``/`` when a match (or the rule) has no
    method, which matches every call (GRPCRoute ``matches`` in the v1.6.1 CRD: "If no matches
    are specified, the implementation MUST match every gRPC request"); None for a regular
    expression, which has no one path."""
    matches = rule.get("matches")
    if not isinstance(matches, list) or not matches:
        return "/"
    for m in matches:
        method = m.get("method") if isinstance(m, dict) else None
        if method is None and isinstance(m, dict):
            return "/"
        if isinstance(method, dict) and method.get("type", "Exact") == "Exact":
            service, name = method.get("service"), method.get("method")
            if isinstance(service, str) and service:
                return f"/{service}/{name}" if isinstance(name, str) and name else f"/{service}/"
            return f"/*/{name}" if isinstance(name, str) and name else "/"
    return None


def _listener_port(objects: ObjectSet, route: KubeObject, parents: list[Any]) -> int | None:
    """The port of the Gateway listener a TCPRoute, TLSRoute or GRPCRoute attaches to, when the
    Gateway is known."""
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
