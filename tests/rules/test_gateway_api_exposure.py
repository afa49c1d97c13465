"""Gateway API routes in the exposure model, and the rules that report on them.

An HTTPRoute or TCPRoute attached to a Gateway is a way into a Ray head like an Ingress or a
tcp-services entry (facts: gateway_api_metallb.md §2, §3): RG104 reports an unauthenticated
head behind one, RG105 a GCS route, RG205 a Dashboard route without a Ray Client path. The
renderer's own Gateway API output must stay free of false positives.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from raygate import engine
from raygate.model import exposure
from raygate.objects import ObjectSet
from raygate.render import render
from raygate.sources.files import load_text
from tests.render import test_gateway_api as gw_render

GW = "gateway.networking.k8s.io"

OPEN_CLUSTER = """
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: open, namespace: ray}
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.52.0
"""

# The Gateway of these tests: an HTTP listener, then the listeners each case adds.
GATEWAY_HTTP = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ray-gateway, namespace: ray}
spec:
  gatewayClassName: eg
  listeners:
  - {name: http, protocol: HTTP, port: 80}
"""

GATEWAY = GATEWAY_HTTP + """\
  - {name: ray-client, protocol: TCP, port: 20001}
  - {name: gcs, protocol: TCP, port: 6379}
"""


def http_route(name: str, service: str, port: int, *, parent: bool = True,
               path: str = "/ray/", namespace: str = "ray") -> str:
    parents = "  parentRefs: [{name: ray-gateway, sectionName: http}]\n" if parent else ""
    return f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: {namespace}}}
spec:
{parents}  hostnames: [ray.example.com]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]
    backendRefs: [{{name: {service}, port: {port}}}]
"""


def tcp_route(name: str, service: str, port: int, *, section: str = "ray-client",
              version: str = "v1alpha2") -> str:
    return f"""
apiVersion: gateway.networking.k8s.io/{version}
kind: TCPRoute
metadata: {{name: {name}, namespace: ray}}
spec:
  parentRefs: [{{name: ray-gateway, sectionName: {section}}}]
  rules:
  - backendRefs: [{{name: {service}, port: {port}}}]
"""


def objects_of(*docs: str) -> ObjectSet:
    loaded = load_text("---\n".join(docs), "<test>")
    assert not loaded.problems and not loaded.notices, (loaded.problems, loaded.notices)
    return ObjectSet(loaded.objects)


def findings(objs: ObjectSet, *select: str) -> list[Any]:
    result = engine.run(objs, select=list(select))
    assert not result.not_checked, result.not_checked
    return result.findings


# ---------------------------------------------------------------------------------------------
# The exposure model


def test_httproute_backend_is_an_http_exposure() -> None:
    objs = objects_of(OPEN_CLUSTER, GATEWAY, http_route("dash", "open-head-svc", 8265))
    [e] = exposure.exposures(objs)
    assert (e.via.kind, e.via.name, e.channel) == ("HTTPRoute", "dash", "http")
    assert e.field == ("spec", "rules", 0, "backendRefs", 0)
    assert (e.namespace, e.service, e.port, e.ray_port) == ("ray", "open-head-svc", "8265",
                                                            "dashboard")
    assert e.ray is not None and e.ray.name == "open"
    assert (e.path, e.host, e.external_port) == ("/ray/", "ray.example.com", None)
    assert exposure.ray_exposures(objs) == (e,)


def test_tcproute_takes_its_listener_port_when_the_gateway_is_known() -> None:
    for version in ("v1alpha2", "v1"):
        objs = objects_of(GATEWAY, tcp_route("client", "open-head-svc", 10001, version=version))
        [e] = exposure.exposures(objs)
        assert (e.via.kind, e.channel, e.port, e.ray_port) == ("TCPRoute", "tcp", "10001", "client")
        assert e.external_port == 20001 and e.path is None
    # Without the Gateway in the inputs the outside port is unknown.
    [e] = exposure.exposures(objects_of(tcp_route("client", "open-head-svc", 10001)))
    assert e.external_port is None


def test_unattached_routes_and_foreign_backends_are_not_exposures() -> None:
    foreign = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: imported, namespace: ray}
spec:
  parentRefs: [{name: ray-gateway}]
  rules:
  - backendRefs: [{group: multicluster.x-k8s.io, kind: ServiceImport, name: open-head-svc, port: 8265}]
"""
    objs = objects_of(http_route("lonely", "open-head-svc", 8265, parent=False), foreign)
    assert exposure.exposures(objs) == ()


def test_backend_namespace_defaults_to_the_routes_and_can_be_set() -> None:
    route = """
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: routes}
spec:
  parentRefs: [{name: ray-gateway, namespace: ray}]
  rules:
  - backendRefs: [{name: a-head-svc, port: 8265}, {name: b-head-svc, namespace: ray, port: 8265}]
"""
    a, b = exposure.exposures(objects_of(route))
    assert (a.namespace, b.namespace) == ("routes", "ray")
    assert b.field == ("spec", "rules", 0, "backendRefs", 1)
    assert a.path == "/"  # a rule without matches matches PathPrefix /


# ---------------------------------------------------------------------------------------------
# The rules


def test_httproute_to_an_unauthenticated_dashboard_fires_rg104() -> None:
    objs = objects_of(OPEN_CLUSTER, GATEWAY, http_route("dash", "open-head-svc", 8265))
    [f] = findings(objs, "RG104")
    assert (f.object.kind, f.object.name, f.field) == ("HTTPRoute", "dash",
                                                       "spec.rules[0].backendRefs[0]")
    assert "HTTPRoute dash path ray.example.com/ray/ -> ray/open-head-svc:8265" in f.message
    assert "CVE-2023-48022" in f.message


def test_tcproute_to_gcs_fires_rg105() -> None:
    objs = objects_of(GATEWAY, tcp_route("gcs", "open-head-svc", 6379, section="gcs"))
    [f] = findings(objs, "RG105")
    assert (f.object.kind, f.object.name, f.severity.value) == ("TCPRoute", "gcs", "error")
    assert "TCPRoute gcs (Gateway listener port 6379) -> ray/open-head-svc:6379" in f.message
    assert "tcp-services" not in f.message


def test_dashboard_httproute_without_a_tcproute_fires_rg205() -> None:
    objs = objects_of(GATEWAY, http_route("dash", "open-head-svc", 8265))
    [f] = findings(objs, "RG205")
    assert (f.object.kind, f.object.name) == ("HTTPRoute", "dash")
    assert "no tcp-services entry, TCPRoute or LoadBalancer/NodePort Service" in f.message
    # The fix speaks Gateway API, not tcp-services.
    assert "TCP listener" in f.fix and "Gateway ray/ray-gateway" in f.fix
    assert "open-head-svc port 10001" in f.fix and "tcp-services" not in f.fix
    # A TCPRoute to the same head's client port is the Ray Client path.
    with_client = objects_of(GATEWAY, http_route("dash", "open-head-svc", 8265),
                             tcp_route("client", "open-head-svc", 10001))
    assert findings(with_client, "RG205") == []


def test_unattached_routes_fire_nothing() -> None:
    objs = objects_of(OPEN_CLUSTER, http_route("dash", "open-head-svc", 8265, parent=False))
    assert findings(objs) == []


def test_ingress_nginx_controller_does_not_hide_tcproutes() -> None:
    """A controller that reads no tcp-services map silences tcp-services entries, not TCPRoutes."""
    controller = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: ingress-nginx}}
  template:
    metadata: {labels: {app.kubernetes.io/name: ingress-nginx}}
    spec:
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        args: [/nginx-ingress-controller]
"""
    objs = objects_of(controller, GATEWAY, tcp_route("gcs", "open-head-svc", 6379, section="gcs"))
    assert [f.code for f in findings(objs, "RG105")] == ["RG105"]


# ---------------------------------------------------------------------------------------------
# The renderer's Gateway API output


def _rendered(name: str, *extra: str) -> ObjectSet:
    return objects_of(*extra, *(yaml.safe_dump(o) for o in render(gw_render.spec_for(name))))


#: What the catalog may report on each rendered case; everything else is a false positive.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "gcs-enabled": {("RG105", "TCPRoute", "ray-cluster-kuberay-gcs")},
}


@pytest.mark.parametrize("name", gw_render.NAMES)
def test_rendered_gateway_api_output_has_no_false_positives(name: str) -> None:
    got = {(f.code, f.object.kind, f.object.name) for f in findings(_rendered(name))}
    assert got == EXPECTED.get(name, set()), got


def test_rendered_gcs_listener_fires_rg105_on_its_tcproute() -> None:
    [f] = [f for f in findings(_rendered("gcs-enabled")) if f.code == "RG105"]
    assert "(Gateway listener port 6379) -> raycluster/ray-cluster-kuberay-head-svc:6379" \
        in f.message


def test_rendered_routes_to_an_unauthenticated_cluster_fire_rg104() -> None:
    """The renderer refuses an unauthenticated cluster; if one gets there anyway (another
    tool, a later edit), its routes are what the catalog reports."""
    cluster = OPEN_CLUSTER.replace("name: open, namespace: ray",
                                   "name: ray-cluster-kuberay, namespace: raycluster")
    got = {(f.object.kind, f.object.name)
           for f in findings(_rendered("pinned", cluster), "RG104")}
    assert got == {("HTTPRoute", "ray-cluster-kuberay-dashboard"),
                   ("TCPRoute", "ray-cluster-kuberay-ray-client")}


GATEWAY_TLS = GATEWAY_HTTP + """\
  - {name: tls, protocol: TLS, port: 443, hostname: client.example.com, tls: {mode: Passthrough}}
"""

TLS_ROUTE = """
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: client-tls, namespace: ray}
spec:
  parentRefs: [{name: ray-gateway, sectionName: tls}]
  hostnames: [client.example.com]
  rules:
  - backendRefs: [{name: open-head-svc, port: 10001}]
"""


def test_a_passthrough_tlsroute_is_a_tcp_way_in() -> None:
    """KubeRay's Ray Client guidance, in Gateway API: a TLS listener in Passthrough mode and a
    TLSRoute to the client port. The stream reaches the head untouched, like a TCPRoute's."""
    objs = objects_of(OPEN_CLUSTER, GATEWAY_TLS, TLS_ROUTE)
    [e] = [e for e in exposure.ray_exposures(objs) if e.via.kind == "TLSRoute"]
    assert (e.channel, e.external_port, e.ray_port) == ("tcp", 443, "client")
    [f] = findings(objs, "RG104")
    assert (f.object.kind, f.object.name) == ("TLSRoute", "client-tls")
    assert "TLSRoute client-tls (Gateway listener port 443) -> ray/open-head-svc:10001" in f.message
    # It is the Ray Client path: a Dashboard route beside it needs no TCPRoute (RG205).
    with_dash = objects_of(GATEWAY_TLS, TLS_ROUTE, http_route("dash", "open-head-svc", 8265))
    assert findings(with_dash, "RG205") == []
    assert [f.object.name for f in findings(objects_of(GATEWAY_TLS, http_route(
        "dash", "open-head-svc", 8265)), "RG205")] == ["dash"]


# ---------------------------------------------------------------------------------------------
# GRPCRoute (Gateway API v1, standard channel since v1.1)

GATEWAY_GRPC = GATEWAY_HTTP + """\
  - {name: ray-client, protocol: TCP, port: 20001}
  - {name: gcs, protocol: TCP, port: 6379}
  - {name: grpc, protocol: HTTP, port: 20002}
"""


def grpc_route(name: str, service: str, port: int, *, match: str = "",
               hostnames: str = "") -> str:
    return f"""
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {{name: {name}, namespace: ray}}
spec:
  parentRefs: [{{name: ray-gateway, sectionName: grpc}}]
{hostnames}  rules:
  - {match}backendRefs: [{{name: {service}, port: {port}}}]
"""


def test_grpcroute_backend_is_a_grpc_exposure_on_its_listener_port() -> None:
    objs = objects_of(OPEN_CLUSTER, GATEWAY_GRPC, grpc_route(
        "client", "open-head-svc", 10001, hostnames="  hostnames: [client.example.com]\n"))
    [e] = exposure.ray_exposures(objs)
    assert (e.via.kind, e.channel, e.port, e.ray_port) == ("GRPCRoute", "grpc", "10001", "client")
    assert (e.host, e.external_port, e.path) == ("client.example.com", 20002, "/")
    assert e.ray is not None and e.ray.name == "open"
    assert exposure.carries_requests(e, "client")


@pytest.mark.parametrize("match, path", [
    ("", "/"),  # no matches: every call (the v1.6.1 CRD: "MUST match every gRPC request")
    ("matches: [{method: {service: ray.rpc.RayletDriver, method: Init}}]\n    ",
     "/ray.rpc.RayletDriver/Init"),
    ("matches: [{method: {type: Exact, service: ray.rpc.RayletDriver}}]\n    ",
     "/ray.rpc.RayletDriver/"),
    ("matches: [{method: {method: Init}}]\n    ", "/*/Init"),
    ("matches: [{headers: [{name: client_id, value: x}]}]\n    ", "/"),
    ("matches: [{method: {type: RegularExpression, service: 'ray\\\\..*'}}]\n    ", None),
])
def test_a_grpcroute_rule_s_path_is_the_method_it_matches(match: str, path: str | None) -> None:
    objs = objects_of(GATEWAY_GRPC, grpc_route("r", "open-head-svc", 10001, match=match))
    [e] = exposure.exposures(objs)
    assert e.path == path


def test_grpc_reaches_only_ray_s_grpc_servers() -> None:
    """gRPC is HTTP/2 to the backend: the Dashboard, Serve HTTP, metrics and the agent speak
    HTTP/1.1 only, the Ray Client, GCS and Serve's gRPC proxy are gRPC servers."""
    objs = objects_of(GATEWAY_GRPC, grpc_route("r", "open-head-svc", 8265))
    [e] = exposure.exposures(objs)
    assert [r for r in ("dashboard", "serve", "metrics", "dashboard-agent", "client",
                        "gcs-server", "serve-grpc", None)
            if exposure.carries_requests(e, r)] == ["client", "gcs-server", "serve-grpc", None]
    http = objects_of(GATEWAY_GRPC, http_route("h", "open-head-svc", 8265))
    [h] = exposure.exposures(http)
    assert exposure.carries_requests(h, "dashboard")


def _verdicts(objs: ObjectSet, *codes: str) -> set[tuple[str, str]]:
    return {(f.code, f.severity.value) for f in findings(objs, *codes)}


@pytest.mark.parametrize("port", [10001, 6379])
def test_a_grpcroute_to_ray_client_or_gcs_gets_the_tcproute_s_verdict(port: int) -> None:
    """An unauthenticated Ray Client or GCS behind a GRPCRoute is as open as behind a TCPRoute:
    the same rules fire with the same severities."""
    codes = ("RG104", "RG105", "RG205")
    section = "ray-client" if port == 10001 else "gcs"
    over_tcp = _verdicts(objects_of(OPEN_CLUSTER, GATEWAY_GRPC, tcp_route(
        "r", "open-head-svc", port, section=section)), *codes)
    over_grpc = _verdicts(objects_of(OPEN_CLUSTER, GATEWAY_GRPC, grpc_route(
        "r", "open-head-svc", port)), *codes)
    assert over_grpc == over_tcp
    assert ("RG104", "error") in over_grpc
    assert (("RG105", "error") in over_grpc) == (port == 6379)


def test_a_grpcroute_to_serve_s_grpc_proxy_is_judged_like_an_httproute_to_serve() -> None:
    """Serve is the data plane: no token needed, over HTTP (8000) or gRPC (its gRPC proxy)."""
    serving = OPEN_CLUSTER.replace("image: rayproject/ray:2.52.0", """image: rayproject/ray:2.52.0
          ports:
          - {containerPort: 8265, name: dashboard}
          - {containerPort: 10001, name: client}
          - {containerPort: 8000, name: serve}
          - {containerPort: 9000, name: serve-grpc}""")
    codes = ("RG104", "RG105", "RG268")
    over_http = _verdicts(objects_of(serving, GATEWAY_GRPC, http_route(
        "s", "open-head-svc", 8000, path="/")), *codes)
    grpc_objs = objects_of(serving, GATEWAY_GRPC, grpc_route("s", "open-head-svc", 9000))
    assert [e.ray_port for e in exposure.ray_exposures(grpc_objs)] == ["serve-grpc"]
    assert _verdicts(grpc_objs, *codes) == over_http == set()
    # The Serve HTTP port over gRPC is the broken route, not an exposure.
    assert _verdicts(objects_of(serving, GATEWAY_GRPC, grpc_route(
        "s", "open-head-svc", 8000)), *codes) == {("RG268", "error")}


def test_a_grpcroute_to_the_dashboard_is_broken_not_open() -> None:
    objs = objects_of(OPEN_CLUSTER, GATEWAY_GRPC, grpc_route("d", "open-head-svc", 8265))
    [f] = findings(objs, "RG104", "RG105", "RG205", "RG268")
    assert (f.code, f.object.kind) == ("RG268", "GRPCRoute")
    assert "GRPCRoute d (Gateway listener port 20002) method */ -> ray/open-head-svc:8265" \
        in f.message
    assert "HTTPRoute" in f.fix


def test_a_security_policy_on_a_grpcroute_authenticates_it() -> None:
    """Envoy Gateway's SecurityPolicy targets GRPCRoutes as it does HTTPRoutes."""
    policy = """
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: jwt, namespace: ray}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: GRPCRoute, name: r}]
  jwt: {providers: [{name: p, remoteJWKS: {uri: "https://auth.example.com/jwks.json"}}]}
"""
    route = grpc_route("r", "open-head-svc", 10001)
    assert _verdicts(objects_of(OPEN_CLUSTER, GATEWAY_GRPC, route), "RG104") == {("RG104", "error")}
    assert _verdicts(objects_of(OPEN_CLUSTER, GATEWAY_GRPC, route, policy), "RG104") == \
        {("RG104", "info")}
    # A policy on an HTTPRoute of the same name does not cover the GRPCRoute.
    other = policy.replace("kind: GRPCRoute", "kind: HTTPRoute")
    assert _verdicts(objects_of(OPEN_CLUSTER, GATEWAY_GRPC, route, other), "RG104") == \
        {("RG104", "error")}


def test_a_dashboard_route_with_a_grpcroute_to_the_client_needs_no_tcproute() -> None:
    objs = objects_of(GATEWAY_GRPC, http_route("dash", "open-head-svc", 8265),
                      grpc_route("client", "open-head-svc", 10001))
    assert findings(objs, "RG205") == []
