"""Which Ray head ports are reachable from outside the cluster, and through what.

Several rules ask the same question from different angles: is the Dashboard exposed without
auth (RG104), is GCS exposed at all (RG105), is the Ray Client reachable when the Dashboard is
(RG205)? This module answers it once per object set. An ``Exposure`` is one path in from
outside: an Ingress backend (``http``), a tcp-services entry (``tcp``), or a head Service of
type LoadBalancer/NodePort or with externalIPs (``service``). Each is resolved to the Ray port
name it reaches (``dashboard``, ``client``, ``serve``, ``gcs-server``...) when the inputs allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from raygate import ingress_nginx as nginx
from raygate import kuberay
from raygate.objects import FieldPath, KubeObject, ObjectSet

#: Well-known Ray head ports, used when neither the Service nor the RayCluster is in the inputs.
WELL_KNOWN = {8265: "dashboard", 10001: "client", 6379: "gcs-server", 8000: "serve",
              8080: "metrics", kuberay.DASHBOARD_AGENT_PORT: "dashboard-agent"}


@dataclass(frozen=True)
class Exposure:
    via: KubeObject
    field: FieldPath
    channel: str  # "http" | "tcp" | "service"
    namespace: str
    service: str
    port: str | None  # as written in the reference (number or name)
    ray_port: str | None  # dashboard / client / serve / gcs-server / ... when known
    ray: KubeObject | None  # the RayCluster/RayService/RayJob behind the Service, if known
    service_obj: KubeObject | None
    external_port: int | None = None
    path: str | None = None
    host: str | None = None

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


def exposures(objects: ObjectSet) -> tuple[Exposure, ...]:
    return objects.memo("ray-exposures", lambda: tuple(_compute(objects)))


def ray_exposures(objects: ObjectSet) -> tuple[Exposure, ...]:
    """Only the exposures that reach a Ray head."""
    return tuple(e for e in exposures(objects) if _is_ray_target(objects, e))


def _is_ray_target(objects: ObjectSet, e: Exposure) -> bool:
    if e.ray is not None:
        return True
    if e.service_obj is not None:
        return kuberay.is_head_service(objects, e.service_obj)
    return kuberay.looks_like_head_service_name(e.service)


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
        for field, entry, host in entries:
            name, port = nginx.backend_service(entry)
            if not isinstance(name, str):
                continue
            svc = objects.get("Service", ing.namespace, name)
            ray = kuberay.owner_of_service(objects, ing.namespace, name)
            found.append(Exposure(ing, field + ("backend",), "http", ing.namespace, name, port,
                                  _ray_port_name(objects, svc, ray, port), ray, svc,
                                  path=entry.get("path"), host=host))
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
    return found
