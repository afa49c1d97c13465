"""Each exposed Ray route as a chain of hops, for the HTML report's pictures.

A lane is one way in from outside (a Dashboard, Serve or GCS path on an Ingress, a Ray Client
tcp-services entry, a Gateway API HTTPRoute, GRPCRoute, TCPRoute or TLSRoute): client -> gateway
node -> controller -> Service -> endpoints -> Ray head.
Every finding of the run that concerns an object on the lane is pinned to the hop it breaks,
so the picture shows *where* the route is cut and the finding beside it says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from raygate.backends.gateway_api import api as gateway_api
from raygate.backends.gateway_api import dataplane as gateway_dataplane
from raygate.model import exposure
from raygate.backends import ingress_nginx as nginx
from raygate import runtime as rt
from raygate.findings import Finding, Result, Severity
from raygate.objects import KubeObject, ObjectSet, format_path

HOPS = ("client", "node", "controller", "service", "endpoints", "head")
HOP_LABEL = {"client": "Client", "node": "Gateway node", "controller": "Controller",
             "service": "Service", "endpoints": "Endpoints", "head": "Ray head pod"}
ROLE = {"dashboard": "Dashboard", "client": "Client", "serve": "Serve", "gcs-server": "GCS"}


def role_label(ray_port: str | None) -> str:
    """The lane's role: KubeRay's Serve Service carries every head port named ``serve`` or
    ``serve-*`` (``BuildServeService``; facts: kuberay_ray.md §1.5), so ``serve-grpc``, the name
    users give Serve's gRPC proxy port, is Serve too."""
    name = ray_port or ""
    return ROLE.get(name) or ("Serve" if name.startswith("serve-") else "Other")


#: Rules that break a specific hop whatever object they report on.
CODE_HOP = {"RG251": "endpoints", "RG252": "endpoints", "RG202": "service", "RG307": "service",
            "RG351": "node", "RG352": "node", "RG301": "node", "RG302": "node", "RG303": "node",
            "RG304": "node", "RG305": "node", "RG354": "head", "RG104": "head"}


@dataclass
class Hop:
    key: str
    name: str = ""
    detail: str = ""
    status: str = "ok"  # ok | warn | fail | unknown
    findings: list[Finding] = field(default_factory=list)

    @property
    def label(self) -> str:
        return HOP_LABEL[self.key]


@dataclass
class Lane:
    role: str  # Dashboard | Client | Serve | GCS | other
    route: str
    target: str
    hops: list[Hop]

    @property
    def status(self) -> str:
        states = {h.status for h in self.hops}
        return next((s for s in ("fail", "warn", "unknown") if s in states), "ok")

    def hop(self, key: str) -> Hop:
        return next(h for h in self.hops if h.key == key)


def build_lanes(objects: ObjectSet, result: Result, state: rt.RuntimeState) -> list[Lane]:
    lanes: list[Lane] = []
    # ingress-nginx lanes run through the controller and tcp-services; Gateway API lanes
    # through the route's Gateway and the implementation behind its GatewayClass.
    # An Ingress another controller serves (ALB, Traefik...) has no ingress-nginx hop to draw.
    exposed = [e for e in exposure.ray_exposures(objects)
               if e.channel in ("http", "tcp") and e.via.kind in ("Ingress", "ConfigMap")
               and (e.channel == "tcp" or (e.data_plane is not None
                                           and e.data_plane.controller is not None))]
    for e in exposed:
        lanes.append(_lane(objects, result, state, e))
    lanes += _missing_client_lanes(objects, result, exposed)
    for e in exposure.ray_exposures(objects):
        if e.via.kind in gateway_api.EXPOSING_ROUTE_KINDS:
            lanes.append(_gateway_api_lane(objects, result, state, e))
    order = {"Dashboard": 0, "Client": 1, "Serve": 2, "GCS": 3}
    lanes.sort(key=lambda lane: (lane.target, order.get(lane.role, 9), lane.route))
    return lanes


def _lane(objects: ObjectSet, result: Result, state: rt.RuntimeState, e: exposure.Exposure) -> Lane:
    controller = (e.data_plane.controller if e.channel == "http" and e.data_plane is not None
                  and e.data_plane.controller is not None
                  else _controller_for_tcp(objects, e.via))
    workload = controller.workload
    pods = rt.controller_pods(objects, workload) if workload is not None else ()
    addresses = rt.gateway_addresses(objects, controller)
    role = role_label(e.ray_port)
    hops = {k: Hop(k) for k in HOPS}

    # What the user typed: the address they were given, else what the gateway advertises.
    given = list(state.expect_ips) or _advertised(e.via) or list(addresses)
    host = e.host or (given[0] if given else "<gateway>")
    if e.channel == "http":
        route = f"http://{host}{e.path or '/'}"
    else:
        route = f"{given[0] if given else '<gateway>'}:{e.external_port}"
    hops["client"].name = ", ".join(given) or "address unknown"
    hops["client"].detail = route

    nodes = [objects.get("Node", "", str(p.spec.get("nodeName"))) for p in pods if p.spec.get("nodeName")]
    node_names = sorted({n.name for n in nodes if n is not None})
    hops["node"].name = ", ".join(node_names) or ", ".join(sorted(addresses)) or "unknown"
    hops["node"].detail = ", ".join(f"{a} ({how})" for a, how in addresses.items()) or "no serving address"
    if not node_names and not addresses:
        hops["node"].status = "unknown"

    hops["controller"].name = (f"{workload.kind} {workload.namespace}/{workload.name}"
                               if workload is not None else "ingress-nginx (not in the inputs)")
    hops["controller"].detail = (f"{e.via.kind} {e.via.namespace}/{e.via.name} "
                                 f"{format_path(e.field)}")
    if workload is None:
        hops["controller"].status = "unknown"

    head = _backend_hops(objects, state, e, hops)
    lane_objects = _lane_objects(objects, e, workload, pods, head)
    return _finish(result, e, hops, lane_objects, role, route)


def _backend_hops(objects: ObjectSet, state: rt.RuntimeState, e: exposure.Exposure,
                  hops: dict[str, Hop]) -> KubeObject | None:
    """The Service, endpoints and Ray head hops, the same for every kind of route."""
    hops["service"].name = f"{e.namespace}/{e.service}:{e.port}"
    hops["service"].detail = "exists" if e.service_obj is not None else "not found"

    head = _head_pod(objects, e)
    if e.service_obj is not None and e.port:
        check = rt.check_endpoints(objects, state, e.service_obj, e.port)
        hops["endpoints"].name = (", ".join(check.ready) if check.ok else
                                  (check.reason or "not checked") if check.known else "not checked")
        hops["endpoints"].detail = check.detail or (f"from {check.evidence}" if check.evidence else "")
        if not check.known:
            hops["endpoints"].status = "unknown"
    else:
        hops["endpoints"].name, hops["endpoints"].status = "none", "unknown"
    hops["head"].name = head.name if head is not None else (e.ray.name if e.ray is not None else "unknown")
    if head is not None:
        hops["head"].detail = "Ready" if rt.pod_ready(head) else rt.pod_trouble(head)
        if not rt.pod_ready(head):
            hops["head"].status = "fail"  # broken even when no rule reported on the pod itself
    elif not state.saw("Pod"):
        hops["head"].status = "unknown"
    return head


def _finish(result: Result, e: exposure.Exposure, hops: dict[str, Hop],
            lane_objects: dict[tuple[str, str, str], str], role: str, route: str) -> Lane:
    for f in result.findings:
        hop = _hop_for(f, e, lane_objects)
        if hop is not None:
            hops[hop].findings.append(f)
    for h in hops.values():
        worst = max((f.severity for f in h.findings), key=lambda s: s.rank, default=None)
        if worst is Severity.ERROR:
            h.status = "fail"
        elif worst is Severity.WARNING:
            h.status = "warn"
        elif worst is not None and h.status == "unknown":
            h.status = "ok"
    return Lane(role, route, f"{e.namespace}/{e.ray.name if e.ray is not None else e.service}",
                [hops[k] for k in HOPS])


def _gateway_api_lane(objects: ObjectSet, result: Result, state: rt.RuntimeState,
                      e: exposure.Exposure) -> Lane:
    """A route's lane: client -> the Gateway's address -> the implementation (the route, its
    Gateway and their status) -> Service -> endpoints -> Ray head."""
    role = role_label(e.ray_port)
    hops = {k: Hop(k) for k in HOPS}
    planes = gateway_dataplane.for_route(objects, e.via)
    gw = planes[0].gateway if planes else None
    addresses = [str(a.get("value")) for a in rt.as_list(gw.get("status", "addresses"))
                 if isinstance(a, dict) and a.get("value")] if gw is not None else []
    given = list(state.expect_ips) or addresses
    host = e.host or (given[0] if given else "<gateway>")
    route = _gateway_api_route(e, host, given)
    hops["client"].name = ", ".join(given) or "address unknown"
    hops["client"].detail = route
    if gw is not None:
        hops["node"].name = f"Gateway {gw.namespace}/{gw.name}"
        hops["node"].detail = ", ".join(addresses) or "no address in its status"
    else:
        hops["node"].name = "Gateway not in the inputs"
    if not addresses:
        hops["node"].status = "unknown"
    impl = planes[0].implementation if planes else None
    hops["controller"].name = (impl.title if impl is not None else "unknown implementation") + \
        (f" (GatewayClass {planes[0].class_name})" if planes and planes[0].class_name else "")
    hops["controller"].detail = f"{e.via.kind} {e.via.namespace}/{e.via.name} {format_path(e.field)}"
    if not planes:
        hops["controller"].status = "unknown"
    head = _backend_hops(objects, state, e, hops)
    lane_objects: dict[tuple[str, str, str], str] = {_key(e.via): "controller"}
    if gw is not None:
        lane_objects[_key(gw)] = "node"
    if e.service_obj is not None:
        lane_objects[_key(e.service_obj)] = "service"
    if e.ray is not None:
        lane_objects[_key(e.ray)] = "head"
    if head is not None:
        lane_objects[_key(head)] = "head"
    return _finish(result, e, hops, lane_objects, role, route)


def _gateway_api_route(e: exposure.Exposure, host: str, given: list[str]) -> str:
    """What the user dials: an HTTPRoute's URL; a GRPCRoute's ``host:port`` (a gRPC client
    names the listener's port, and the host name when the route matches one) and the method
    path it matches; a TCPRoute/TLSRoute's address and listener port."""
    if e.channel == "http":
        return f"http://{host}{e.path or '/'}"
    if e.channel == "grpc":
        port = f":{e.external_port}" if e.external_port else ""
        return f"grpc://{host}{port}{e.path or ''}"
    return f"{given[0] if given else '<gateway>'}:{e.external_port}"


def _controller_for_tcp(objects: ObjectSet, cm: KubeObject) -> nginx.Controller:
    readers = nginx.controllers_reading(objects, cm)
    return readers[0] if readers else nginx.controller_for_class(objects, None)


def _advertised(ing: KubeObject) -> list[str]:
    out = []
    for lb in rt.as_list(ing.get("status", "loadBalancer", "ingress")):
        if isinstance(lb, dict) and (lb.get("ip") or lb.get("hostname")):
            out.append(str(lb.get("ip") or lb.get("hostname")))
    return out


def _head_pod(objects: ObjectSet, e: exposure.Exposure) -> KubeObject | None:
    if e.ray is not None and e.ray.kind == "RayCluster":
        pods = rt.head_pods(objects, e.ray)
        if pods:
            return pods[0]
    if e.service_obj is not None:
        selected = objects.pods_selected_by(e.service_obj)
        if selected:
            return selected[0]
        heads = rt.head_pods_for_service(objects, e.service_obj)
        if heads:
            return heads[0]
    return None


def _key(obj: KubeObject) -> tuple[str, str, str]:
    return (obj.kind, obj.namespace, obj.name)


def _lane_objects(objects: ObjectSet, e: exposure.Exposure, workload: KubeObject | None,
                  pods: Iterable[KubeObject], head: KubeObject | None) -> dict[tuple[str, str, str], str]:
    """Object key -> the hop a finding on it breaks (unless the rule says otherwise)."""
    out: dict[tuple[str, str, str], str] = {_key(e.via): "controller"}
    if workload is not None:
        out[_key(workload)] = "controller"
        for svc in rt.controller_services(objects, workload):
            out[_key(svc)] = "node"
        if workload.namespace:
            cm = nginx.find_controllers(objects)
            for c in cm:
                if c.workload is workload and c.configmap is not None:
                    out[_key(c.configmap)] = "controller"
    for p in pods:
        out[_key(p)] = "controller"
        if p.spec.get("nodeName"):
            out[("Node", "", str(p.spec["nodeName"]))] = "node"
    if e.service_obj is not None:
        out[_key(e.service_obj)] = "service"
    if e.ray is not None:
        out[_key(e.ray)] = "head"
    if head is not None:
        out[_key(head)] = "head"
    return out


def _hop_for(f: Finding, e: exposure.Exposure, lane_objects: dict[tuple[str, str, str], str]) -> str | None:
    key = (f.object.kind, f.object.namespace, f.object.name)
    default = lane_objects.get(key)
    if default is None:
        return None
    if key == _key(e.via) and not _concerns_route(f.field, e):
        return None  # another path or entry of the same Ingress / ConfigMap
    if f.code == "RG353":
        return "client" if f.object.kind in ("Ingress", "Deployment", "DaemonSet") else "node"
    return CODE_HOP.get(f.code, default)


def _concerns_route(finding_field: str, e: exposure.Exposure) -> bool:
    """Whether a finding on the lane's Ingress/ConfigMap is about this lane's path or entry
    (object-wide fields such as annotations concern every lane of the object)."""
    lane_field = format_path(e.field)
    if finding_field.startswith("data[") or finding_field.startswith('data["'):
        return lane_field.startswith(finding_field) or finding_field.startswith(lane_field)
    if finding_field.startswith("spec.rules[") \
            and e.via.kind in gateway_api.EXPOSING_ROUTE_KINDS:
        rule = format_path(e.field[:3])  # spec.rules[i]: the lane's rule
        return finding_field == rule or finding_field.startswith(rule + ".") \
            or finding_field.startswith(rule + "[")
    if finding_field.startswith("spec.rules[") and e.field[:1] == ("spec",):
        path_prefix = format_path(e.field[:-1]) if e.field[-1] == "backend" else lane_field
        return finding_field.startswith(path_prefix) or path_prefix.startswith(finding_field)
    return True


def _missing_client_lanes(objects: ObjectSet, result: Result,
                          exposed: list[exposure.Exposure]) -> list[Lane]:
    """A Client lane for each Ray head exposed over HTTP but not over tcp-services (RG205)."""
    lanes = []
    with_client = {(e.namespace, e.service) for e in exposed if e.channel == "tcp" and e.ray_port == "client"}
    done: set[tuple[str, str]] = set()
    rg205 = [f for f in result.findings if f.code == "RG205"]
    for e in exposed:
        key = (e.namespace, e.service)
        if e.channel != "http" or e.ray_port != "dashboard" or key in with_client or key in done:
            continue
        done.add(key)
        hops = [Hop(k, status="unknown") for k in HOPS]
        controller = next(h for h in hops if h.key == "controller")
        controller.name = "no tcp-services entry"
        controller.detail = f"nothing forwards port 10001 to {e.namespace}/{e.service}"
        related = {(e.via.kind, e.via.namespace, e.via.name), ("Service", e.namespace, e.service)}
        if e.ray is not None:
            related.add(_key(e.ray))
        controller.findings = [f for f in rg205 if (f.object.kind, f.object.namespace, f.object.name)
                               in related or f.object.kind == "ConfigMap"]
        if controller.findings:
            controller.status = "fail" if any(f.severity is Severity.ERROR for f in controller.findings) else "warn"
        lanes.append(Lane("Client", "(not exposed)", f"{e.namespace}/{e.ray.name if e.ray is not None else e.service}",
                          hops))
    return lanes
