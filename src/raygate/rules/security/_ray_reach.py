"""Which Ray head ports outsiders can reach, as the security rules RG104-RG106 need it.

``raygate.model.exposure`` lists every path in (Ingress backend, tcp-services entry, exposed
Service, Gateway API HTTPRoute/GRPCRoute/TCPRoute/TLSRoute). The security rules need these
refinements of it, shared here so they agree:

* the *role* of the reached port (dashboard, client, gcs-server, ...), also when the head
  container gives the port a custom name, by mapping the name back to its number;
* a tcp-services ConfigMap exposes nothing when the inputs contain controllers and none of them
  reads it (``--tcp-services-configmap``; facts: ingress_nginx.md §3.3);
* exposures declared on the Ray CR itself, which KubeRay turns into objects that are usually not
  in the inputs: ``headGroupSpec.headService.spec.type`` or ``serviceType`` of
  LoadBalancer/NodePort publishes every head Service port (KubeRay appends its default ports to
  a custom ``headService``), and ``headGroupSpec.enableIngress: true`` creates
  ``<cluster>-head-ingress`` to the ``dashboard`` port (``model/heads.declared_exposures``;
  facts: kuberay_ray.md §1.2, §1.3, §3);
* a GRPCRoute carries gRPC calls only: to Ray Client or GCS it is as open a way in as a
  TCPRoute (both are gRPC servers), to an HTTP/1.1-only port (Dashboard, Serve HTTP, metrics,
  dashboard agent) it gets no request through (``exposure.carries_requests``; RG268 reports
  that route as broken instead).
"""

from __future__ import annotations

from collections import defaultdict
from raygate.backends.gateway_api import api as gateway_api
from raygate.model import exposure as exposure_mod
from raygate.model import heads
from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate import kuberay
from raygate.objects import KubeObject, ObjectSet

#: Ray ports token auth protects (facts: kuberay_ray.md §7: "With token auth (2.52+)
#: 8265/10001/6379 require the token"); Serve (8000) is the data plane and needs no token.
TOKEN_GUARDED = ("dashboard", "client", "gcs-server")
#: Ports that should never leave the cluster (facts: kuberay_ray.md §10 item 5).
INTERNAL_ONLY = ("gcs-server", "dashboard-agent", "metrics")
#: The kinds an exposure can come through, for the rules' ``kinds``.
EXPOSING_KINDS = ("Ingress", "ConfigMap", "Service") + gateway_api.EXPOSING_ROUTE_KINDS

_ROLE_BY_NUMBER = {v: k for k, v in kuberay.DEFAULT_PORTS.items()}
_ROLE_BY_NUMBER[kuberay.DASHBOARD_AGENT_PORT] = "dashboard-agent"


def ray_behind(objects: ObjectSet, e: exposure_mod.Exposure) -> KubeObject | None:
    """The KubeRay CR an exposure reaches (model/heads.py: its head Service's owner, a
    RayService's children, a Service selecting a RayCluster's head pod), or None."""
    if e.ray is not None:
        return e.ray
    return e.head.ray if e.head is not None else None


def port_role(e: exposure_mod.Exposure, ray: KubeObject | None = None) -> str | None:
    """The Ray role of the port an exposure reaches, or None when it cannot be told."""
    name = e.ray_port
    if name is not None and (name in kuberay.DEFAULT_PORTS or name == "dashboard-agent"):
        return name
    ray = ray or e.ray
    if name is not None and ray is not None:
        number = kuberay.head_ports(ray).get(name)
        if number is not None:
            return _ROLE_BY_NUMBER.get(number)
    if e.head is not None and e.ray is None:
        return e.head.role(e.port)
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


def carries(e: exposure_mod.Exposure, role: str | None) -> bool:
    """Whether requests through ``e`` reach the server of ``role`` (``exposure.carries_requests``:
    a GRPCRoute does not reach an HTTP/1.1-only port)."""
    return exposure_mod.carries_requests(e, role)


def how(e: exposure_mod.Exposure) -> str:
    """A short description of the way in, for messages."""
    if e.via.kind in gateway_api.EXPOSING_ROUTE_KINDS:
        if e.channel == "tcp":
            listener = f"Gateway listener port {e.external_port}" if e.external_port else "Gateway"
            return f"{e.via.kind} {e.via.name} ({listener}) -> {e.target}"
        if e.channel == "grpc":
            listener = f"Gateway listener port {e.external_port}" if e.external_port else "Gateway"
            method = e.path or "(method by regular expression)"
            return (f"GRPCRoute {e.via.name} ({listener}) method {e.host or '*'}{method} -> "
                    f"{e.target}")
        return f"HTTPRoute {e.via.name} path {e.host or '*'}{e.path or '/'} -> {e.target}"
    if e.channel == "tcp":
        return f"tcp-services port {e.external_port} -> {e.target}"
    if e.channel == "service":
        kind = e.via.spec.get("type") or "ClusterIP with externalIPs"
        return f"Service type {kind} port {e.port}"
    where = f"{e.host or '*'}{e.path or '/'}"
    return f"Ingress path {where} -> {e.service}:{e.port}"


#: An exposure a Ray CR asks KubeRay to create (``headService``/``serviceType`` of type
#: LoadBalancer/NodePort, ``enableIngress``); model/heads.py builds them.
CrExposure = heads.Declared


def cr_exposures(objects: ObjectSet, obj: KubeObject) -> list[CrExposure]:
    """Exposures declared on a RayCluster/RayService/RayJob that the inputs do not show."""
    return heads.declared_exposures(objects, obj)
