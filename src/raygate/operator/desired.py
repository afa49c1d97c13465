"""What one annotated Ray cluster should get: a pure function of the cluster, the operator's
settings and the ports it holds. The reconciler writes what this returns.

The routes come from ``raygate.render``, the same renderer ``raygate render`` uses, from a
``GatewaySpec`` built per cluster: one way to turn "expose this cluster" into objects, so the
operator's routes pass the same catalog the CLI's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from raygate import kuberay, render
from raygate.errors import RaygateError
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.operator.settings import OperatorSettings
from raygate.render import gateway_api
from raygate.spec import GatewaySpec

EXPOSE = "raygate.io/expose"
EXTRA_TCP = "raygate.io/extra-tcp-ports"
DASHBOARD_URL = "raygate.io/dashboard-url"
CLIENT_ADDRESS = "raygate.io/client-address"
STATUS = "raygate.io/status"
FINALIZER = "raygate.io/expose"
PARTS = ("dashboard", "jobs", "client", "serve", "gcs")
#: Ingress/route names carry this label, so garbage collection can find what a crash left.
CLUSTER_LABEL = "raygate.io/cluster"


class ExposeError(RaygateError):
    """The annotation asks for something that cannot or must not be done."""


@dataclass(frozen=True)
class Request:
    """What ``raygate.io/expose`` (and ``raygate.io/extra-tcp-ports``) ask for."""

    parts: frozenset[str]
    extra_tcp_ports: tuple[int, ...] = ()

    @property
    def http(self) -> bool:
        return bool(self.parts & {"dashboard", "jobs"})

    def purposes(self) -> set[str]:
        """The TCP purposes that need an external port each."""
        out = {f"tcp-{p}" for p in self.extra_tcp_ports}
        if "client" in self.parts:
            out.add("client")
        if "gcs" in self.parts:
            out.add("gcs")
        return out


def parse_request(annotations: Mapping[str, Any]) -> Request | None:
    """The cluster's request, None when it is not annotated; ExposeError on a bad value."""
    raw = annotations.get(EXPOSE)
    if raw is None:
        return None
    words = [w.strip().lower() for w in str(raw).split(",") if w.strip()]
    if words in (["true"], ["all"]):
        words = ["dashboard", "jobs", "client"]
    unknown = [w for w in words if w not in PARTS]
    if unknown:
        raise ExposeError(f"{EXPOSE}: unknown part(s) {', '.join(unknown)}; use a list of "
                          f"{', '.join(PARTS)}")
    if not words:
        raise ExposeError(f"{EXPOSE} is empty; use a list of {', '.join(PARTS)}")
    extra: list[int] = []
    for w in str(annotations.get(EXTRA_TCP) or "").split(","):
        w = w.strip()
        if not w:
            continue
        if not w.isdigit() or not 1 <= int(w) <= 65535:
            raise ExposeError(f"{EXTRA_TCP}: {w!r} is not a TCP port of the head Service")
        extra.append(int(w))
    return Request(frozenset(words), tuple(sorted(set(extra))))


@dataclass
class Plan:
    """Everything one cluster should have, or why it gets nothing."""

    cluster: str                      # namespace/name
    kind: str
    uid: str
    request: Request | None
    #: Why the cluster is not exposed (policy or a bad annotation), for the Event/annotation.
    refused: str | None = None
    #: purpose -> head Service port, for each TCP port that needs an external port.
    tcp_targets: dict[str, int] = field(default_factory=dict)
    head_service: str = ""
    #: Routes (Ingresses, or HTTPRoutes, TCPRoutes and the cluster's ListenerSet) to apply,
    #: labelled with the cluster.
    routes: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: gateway-api: why the TCP ports (held, never moved) are not exposed on the shared
    #: Gateway, e.g. it does not admit the cluster's ListenerSet; HTTP routes still are.
    tcp_refused: str | None = None

    @property
    def exposed(self) -> bool:
        return self.request is not None and self.refused is None


def _as_object(cluster: Mapping[str, Any]) -> KubeObject:
    return KubeObject(dict(cluster), Origin("cluster"))


def cluster_ref(cluster: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = cluster.get("metadata") or {}
    return (str(meta.get("namespace") or "default"), str(meta.get("name") or ""),
            str(meta.get("uid") or ""), str(cluster.get("kind") or "RayCluster"))


def route_name_prefix(namespace: str, name: str) -> str:
    # Distinct from KubeRay's own objects (<cluster>-head-ingress, <cluster>-head-svc).
    return f"raygate-{name}"[:40].rstrip("-")


def dashboard_path(settings: OperatorSettings, namespace: str, name: str) -> str:
    r = settings.routing
    return f"{r.prefix}/{namespace}/{name}" if r.mode == "path" else r.prefix


def host_for(settings: OperatorSettings, namespace: str, name: str) -> str | None:
    r = settings.routing
    return f"{name}.{namespace}.{r.domain}" if r.mode == "host" else r.host


def plan(cluster: Mapping[str, Any], settings: OperatorSettings,
         ports: Mapping[str, int] | None = None, shared: ObjectSet | None = None) -> Plan:
    """The plan for one cluster. ``ports``: purpose -> external port it already holds (the
    routes for TCP purposes are only part of the plan once their port is held). ``shared``
    (gateway-api): the shared Gateway as read, and the Namespace objects its
    ``allowedListeners`` selector needs."""
    ns, name, uid, kind = cluster_ref(cluster)
    obj = _as_object(cluster)
    try:
        request = parse_request(obj.annotations)
    except ExposeError as e:
        return Plan(f"{ns}/{name}", kind, uid, None, refused=str(e))
    result = Plan(f"{ns}/{name}", kind, uid, request)
    if request is None:
        return result
    if obj.metadata.get("deletionTimestamp"):
        result.request = None
        return result
    if "gcs" in request.parts and not settings.allow_gcs:
        result.refused = ("gcs was asked for, but GCS is the cluster's control plane and the "
                          "operator is not configured to expose it (allowGcs: false)")
        return result
    if kuberay.auth_mode(obj) != "token" and not settings.allow_unauthenticated:
        result.refused = (f"{kind} {ns}/{name} has no token auth: anybody who reaches the "
                          "Dashboard or Ray Client can run code on it; set "
                          f"{kuberay.AUTH_FIX} (or configure allowUnauthenticated)")
        return result
    head_ports = kuberay.head_ports(obj)
    result.head_service = kuberay.head_service_name(obj)
    if "client" in request.parts:
        result.tcp_targets["client"] = head_ports.get("client", kuberay.DEFAULT_PORTS["client"])
    if "gcs" in request.parts:
        result.tcp_targets["gcs"] = head_ports.get("gcs-server",
                                                   kuberay.DEFAULT_PORTS["gcs-server"])
    for p in request.extra_tcp_ports:
        if p not in head_ports.values():
            result.warnings.append(f"{EXTRA_TCP}: the head Service has no port {p}; skipped")
            continue
        result.tcp_targets[f"tcp-{p}"] = p
    tcp_ports = {k: v for k, v in (ports or {}).items() if k in result.tcp_targets}
    if settings.backend == "gateway-api" and tcp_ports:
        result.tcp_refused = _tcp_refusal(settings, ns, shared)
        if result.tcp_refused:
            tcp_ports = {}
    else:
        tcp_ports = {}
    if request.http or "serve" in request.parts or tcp_ports:
        try:
            result.routes = _routes(cluster, obj, request, settings, ns, name, tcp_ports,
                                    result.tcp_targets, shared)
        except RaygateError as e:
            result.refused = str(e)
            result.routes = []
    return result


def _tcp_refusal(settings: OperatorSettings, namespace: str,
                 shared: ObjectSet | None) -> str | None:
    """Why the cluster's TCP listeners cannot be added to the shared Gateway (None: they can)."""
    gw_ns, gw_name = settings.gateway_ref
    gw = shared.get("Gateway", gw_ns, gw_name) if shared is not None else None
    if gw is None:
        return (f"the shared Gateway {gw_ns}/{gw_name} (gatewayApi.gatewayName) was not found: "
                "its TCP listeners cannot be attached")
    refused = gateway_api.listener_sets_refused(gw, namespace, shared)
    return (f"{refused}: the Ray Client and TCP ports need a ListenerSet; ask the Gateway's "
            "owner to admit this namespace") if refused else None


def _routes(cluster: Mapping[str, Any], obj: KubeObject, request: Request,
            settings: OperatorSettings, ns: str, name: str,
            tcp_ports: Mapping[str, int] | None = None,
            tcp_targets: Mapping[str, int] | None = None,
            shared: ObjectSet | None = None) -> list[dict[str, Any]]:
    """The cluster's routes, from the same renderer as ``raygate render``.

    ingress-nginx: its Ingresses (TCP is shared across clusters: the reconciler writes one
    tcp-services map). gateway-api: its HTTPRoutes on the shared Gateway's HTTP listener and,
    for ``tcp_ports`` (purpose -> external port held), a TCPRoute each on a listener of the
    cluster's own ListenerSet attached to the shared Gateway."""
    tcp_ports, tcp_targets = tcp_ports or {}, tcp_targets or {}
    exposures: dict[str, Any] = {
        "host": host_for(settings, ns, name),
        "dashboard": {"path": dashboard_path(settings, ns, name)},
        "serve": ({"path": f"/serve/{ns}/{name}" if settings.routing.mode == "path"
                   else "/serve"} if "serve" in request.parts else None),
        "rayClient": ({"enabled": True, "port": tcp_ports["client"]} if "client" in tcp_ports
                      else {"enabled": False}),
        "extraTcpPorts": [{"port": port, "servicePort": tcp_targets[purpose]}
                          for purpose, port in sorted(tcp_ports.items())
                          if purpose.startswith("tcp-")],
    }
    if "gcs" in tcp_ports:
        exposures["gcs"] = {"enabled": True, "port": tcp_ports["gcs"]}
    data: dict[str, Any] = {
        "name": route_name_prefix(ns, name),
        "backend": settings.backend,
        "rayCluster": {"name": name, "namespace": ns},
        "controller": settings.controller.model_dump(by_alias=True),
        "exposures": exposures,
        "security": {"allowlist": [], "requireTokenAuth": not settings.allow_unauthenticated},
    }
    inputs: tuple[KubeObject, ...] = (obj,)
    if settings.backend == "gateway-api":
        gw = settings.gateway_api
        gw_ns, gw_name = settings.gateway_ref
        data["gatewayApi"] = {
            "createGateway": False, "gatewayName": gw_name, "gatewayNamespace": gw_ns,
            "httpPort": gw.http_port, "tcpRouteApiVersion": gw.tcp_route_api_version,
            # TCP listeners go into the cluster's own ListenerSet: the Gateway is not ours.
            "listenerSet": True if tcp_ports else None,
        }
        inputs += tuple(shared or ())
    spec = GatewaySpec.model_validate(data)
    rendered = render.build(spec, cluster=ObjectSet(inputs),
                            allow_unauthenticated=settings.allow_unauthenticated)
    wanted_kinds = {"Ingress", "HTTPRoute", "TCPRoute", "ListenerSet"}
    routes = []
    for item in rendered.items:
        o = item.obj
        if o.get("kind") not in wanted_kinds:
            continue
        if not request.http and o["metadata"]["name"].endswith(("-dashboard", "-dashboard-redirect")):
            continue
        labels = o["metadata"].setdefault("labels", {})
        labels[CLUSTER_LABEL] = f"{ns}.{name}"
        labels["app.kubernetes.io/managed-by"] = "raygate-operator"
        annotations = o["metadata"].setdefault("annotations", {})
        # The operator decides whether the Ray Client is exposed; the catalog should not
        # ask the Dashboard route for it.
        annotations.pop("raygate.io/ignore", None)
        routes.append(o)
    if settings.backend == "gateway-api":
        _check_attachment(routes, settings, ns, shared)
    return routes


def _check_attachment(routes: list[dict[str, Any]], settings: OperatorSettings, ns: str,
                      shared: ObjectSet | None) -> None:
    """Refuse what would not attach: a route naming a listener the shared Gateway does not
    have (it lacks it and does not admit our ListenerSet), or, with path routing, an HTTP
    listener in the cluster's ListenerSet (every cluster would add the same host and port, and
    all but the oldest would be Conflicted)."""
    gw_ns, gw_name = settings.gateway_ref
    gw = shared.get("Gateway", gw_ns, gw_name) if shared is not None else None
    if gw is None:
        return  # the routes attach once it exists; the TCP ports wait (_tcp_refusal)
    have = {l.get("name") for l in gw.spec.get("listeners") or [] if isinstance(l, dict)}
    missing = sorted({ref.get("sectionName") for r in routes if r["kind"] != "ListenerSet"
                      for ref in r["spec"].get("parentRefs") or []
                      if ref.get("kind") == "Gateway" and ref.get("sectionName") not in have})
    if missing:
        raise ExposeError(
            f"the shared Gateway {gw_ns}/{gw_name} has no listener {', '.join(missing)} "
            f"admitting routes from namespace {ns} (port {settings.gateway_api.http_port}, "
            "allowedRoutes), and does not admit ListenerSets from it: ask its owner for one")
    if settings.routing.mode == "path":
        for r in routes:
            if r["kind"] == "ListenerSet" and any(
                    l.get("protocol") in ("HTTP", "HTTPS") for l in r["spec"]["listeners"]):
                raise ExposeError(
                    f"the shared Gateway {gw_ns}/{gw_name} has no HTTP listener on port "
                    f"{settings.gateway_api.http_port} admitting HTTPRoutes from namespace "
                    f"{ns}: with path routing every cluster would add the same listener to it "
                    "(all but one Conflicted); ask its owner for one, or use routing.mode: host")


def tcp_services_data(holdings: Mapping[str, Mapping[str, int]],
                      plans: Mapping[str, Plan]) -> dict[str, str]:
    """The tcp-services entries of every exposed cluster: ``"<port>": "<ns>/<svc>:<port>"``.

    ``holdings``: cluster -> purpose -> external port.
    """
    data: dict[str, str] = {}
    for cluster, purposes in holdings.items():
        p = plans.get(cluster)
        if p is None or not p.exposed:
            continue
        ns = cluster.partition("/")[0]
        for purpose, port in purposes.items():
            target = p.tcp_targets.get(purpose)
            if target is not None:
                data[str(port)] = f"{ns}/{p.head_service}:{target}"
    return dict(sorted(data.items(), key=lambda kv: int(kv[0])))


def annotations_for(p: Plan, settings: OperatorSettings,
                    ports: Mapping[str, int]) -> dict[str, str]:
    """What users are told on the cluster: URLs, or why it is not exposed."""
    ns, _, name = p.cluster.partition("/")
    if p.refused:
        return {STATUS: f"not exposed: {p.refused}"}
    out = {STATUS: f"exposed without its TCP ports: {p.tcp_refused}" if p.tcp_refused
           else "exposed"}
    address = settings.gateway_address
    if p.request is not None and p.request.http:
        host = host_for(settings, ns, name) or address or "GATEWAY"
        out[DASHBOARD_URL] = f"http://{host}{dashboard_path(settings, ns, name)}/"
    if "client" in ports and not p.tcp_refused:
        out[CLIENT_ADDRESS] = f"ray://{address or 'GATEWAY'}:{ports['client']}"
    return out


def shared_cookie_warning(plans: Mapping[str, Plan], settings: OperatorSettings) -> str | None:
    """Path-based routing puts every cluster on one host; Ray's auth cookie has ``path=/``,
    so clusters with different tokens overwrite each other's cookie in the browser."""
    if settings.routing.mode != "path":
        return None
    http = sorted(c for c, p in plans.items() if p.exposed and p.request and p.request.http)
    if len(http) < 2:
        return None
    return (f"{len(http)} clusters share one host with path-based routing; Ray's auth cookie is "
            "set for path=/, so a browser logged in to one is logged out of the others: use "
            "routing.mode: host for clusters with different tokens")
