"""Which Ray head ports outsiders can reach, as the security rules RG104-RG106 need it.

``raygate.model.exposure`` lists every path in (Ingress backend, tcp-services entry, exposed
Service, Gateway API HTTPRoute/TCPRoute). The security rules need three refinements of it,
shared here so they agree:

* the *role* of the reached port (dashboard, client, gcs-server, ...), also when the head
  container gives the port a custom name, by mapping the name back to its number;
* a tcp-services ConfigMap exposes nothing when the inputs contain controllers and none of them
  reads it (``--tcp-services-configmap``; facts: ingress_nginx.md §3.3);
* exposures declared on the Ray CR itself, which KubeRay turns into objects that are usually not
  in the inputs: ``headGroupSpec.serviceType: LoadBalancer|NodePort`` publishes every head
  Service port, and ``headGroupSpec.enableIngress: true`` creates ``<cluster>-head-ingress`` to
  the ``dashboard`` port (facts: kuberay_ray.md §1.2, §1.3, §3).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from raygate.model import exposure as exposure_mod
from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate import kuberay
from raygate.objects import KubeObject, ObjectSet

#: Ray ports token auth protects (facts: kuberay_ray.md §7: "With token auth (2.52+)
#: 8265/10001/6379 require the token"); Serve (8000) is the data plane and needs no token.
TOKEN_GUARDED = ("dashboard", "client", "gcs-server")
#: Ports that should never leave the cluster (facts: kuberay_ray.md §10 item 5).
INTERNAL_ONLY = ("gcs-server", "dashboard-agent", "metrics")

_ROLE_BY_NUMBER = {v: k for k, v in kuberay.DEFAULT_PORTS.items()}
_ROLE_BY_NUMBER[kuberay.DASHBOARD_AGENT_PORT] = "dashboard-agent"


def ray_behind(objects: ObjectSet, e: exposure_mod.Exposure) -> KubeObject | None:
    """The Ray CR an exposure reaches: its head Service's owner, or, for a hand-written Service
    selecting a head pod, the cluster named by the selector's ``ray.io/cluster`` label."""
    if e.ray is not None:
        return e.ray
    svc = e.service_obj
    selector = svc.spec.get("selector") if svc is not None else None
    if not isinstance(selector, dict) or selector.get("ray.io/node-type") != "head":
        return None
    cluster = selector.get("ray.io/cluster")
    for rc in kuberay.ray_clusters(objects):
        if rc.kind == "RayCluster" and rc.namespace == e.namespace and rc.name == cluster:
            return rc
    return None


def port_role(e: exposure_mod.Exposure, ray: KubeObject | None = None) -> str | None:
    """The Ray role of the port an exposure reaches, or None when it cannot be told."""
    name = e.ray_port
    if name is None:
        return None
    if name in kuberay.DEFAULT_PORTS or name == "dashboard-agent":
        return name
    ray = ray or e.ray
    if ray is not None:
        number = kuberay.head_ports(ray).get(name)
        if number is not None:
            return _ROLE_BY_NUMBER.get(number)
    return None


def by_via(objects: ObjectSet) -> dict[int, list[exposure_mod.Exposure]]:
    """Exposures that really reach a Ray head, grouped by the exposing object (by identity)."""
    return objects.memo("security-ray-exposures-by-via", lambda: _group(objects)[0])


def dormant_of(objects: ObjectSet, obj: KubeObject) -> list[exposure_mod.Exposure]:
    """tcp-services entries of ``obj`` that no controller in the inputs reads yet: no exposure
    today, one as soon as a controller is pointed at the map (RG204's fix)."""
    dormant = objects.memo("security-ray-dormant-by-via", lambda: _group(objects)[1])
    return dormant.get(id(obj), [])


def _group(objects: ObjectSet) -> tuple[dict[int, list[exposure_mod.Exposure]],
                                        dict[int, list[exposure_mod.Exposure]]]:
    controllers = nginx.find_controllers(objects)
    read = {c.tcp_services_ref for c in controllers if c.tcp_services_ref}
    grouped: dict[int, list[exposure_mod.Exposure]] = defaultdict(list)
    dormant: dict[int, list[exposure_mod.Exposure]] = defaultdict(list)
    for e in exposure_mod.ray_exposures(objects):
        if e.channel == "tcp" and e.via.kind == "ConfigMap" and controllers \
                and f"{e.via.namespace}/{e.via.name}" not in read:
            # No controller in the inputs reads this map: it opens no port (RG204's job), yet.
            dormant[id(e.via)].append(e)
            continue
        if e.via.kind == "Ingress" and nginx.redirect_target(e.via) is not None \
                and dataplane.for_ingress(objects, e.via).is_ingress_nginx:
            continue  # a redirect-only Ingress answers every request itself
        grouped[id(e.via)].append(e)
    return dict(grouped), dict(dormant)


def exposures_of(objects: ObjectSet, obj: KubeObject) -> list[exposure_mod.Exposure]:
    return by_via(objects).get(id(obj), [])


def how(e: exposure_mod.Exposure) -> str:
    """A short description of the way in, for messages."""
    if e.via.kind in ("HTTPRoute", "TCPRoute"):
        if e.channel == "tcp":
            listener = f"Gateway listener port {e.external_port}" if e.external_port else "Gateway"
            return f"TCPRoute {e.via.name} ({listener}) -> {e.target}"
        return f"HTTPRoute {e.via.name} path {e.host or '*'}{e.path or '/'} -> {e.target}"
    if e.channel == "tcp":
        return f"tcp-services port {e.external_port} -> {e.target}"
    if e.channel == "service":
        kind = e.via.spec.get("type") or "ClusterIP with externalIPs"
        return f"Service type {kind} port {e.port}"
    where = f"{e.host or '*'}{e.path or '/'}"
    return f"Ingress path {where} -> {e.service}:{e.port}"


@dataclass(frozen=True)
class CrExposure:
    """An exposure the Ray CR asks KubeRay to create."""

    field: tuple[Any, ...]
    description: str
    roles: dict[str, int]  # role -> port


def _head_group_path(obj: KubeObject) -> tuple[str, ...]:
    if obj.kind == "RayCluster":
        return ("spec", "headGroupSpec")
    return ("spec", "rayClusterConfig" if obj.kind == "RayService" else "rayClusterSpec",
            "headGroupSpec")


def cr_exposures(objects: ObjectSet, obj: KubeObject) -> list[CrExposure]:
    """Exposures declared on a RayCluster/RayService/RayJob that the inputs do not show."""
    if not kuberay.is_ray(obj):
        return []
    head = kuberay.cluster_spec(obj).get("headGroupSpec")
    if not isinstance(head, dict):
        return []
    base = _head_group_path(obj)
    found: list[CrExposure] = []
    service_type = head.get("serviceType")
    service_name = kuberay.head_service_name(obj)
    if service_type in ("LoadBalancer", "NodePort") and \
            objects.get("Service", obj.namespace, service_name) is None:
        roles: dict[str, int] = {}
        for name, number in kuberay.head_ports(obj).items():
            role = name if name in kuberay.DEFAULT_PORTS else _ROLE_BY_NUMBER.get(number)
            if role:
                roles[role] = number
        found.append(CrExposure(base + ("serviceType",),
                                f"head Service {obj.namespace}/{service_name} of type "
                                f"{service_type}", roles))
    ingress_name = f"{obj.name}-head-ingress"
    if head.get("enableIngress") is True and obj.kind == "RayCluster" and \
            objects.get("Ingress", obj.namespace, ingress_name) is None:
        port = kuberay.head_ports(obj).get("dashboard", kuberay.DEFAULT_PORTS["dashboard"])
        found.append(CrExposure(base + ("enableIngress",),
                                f"the KubeRay-built Ingress {obj.namespace}/{ingress_name}",
                                {"dashboard": port}))
    return found
