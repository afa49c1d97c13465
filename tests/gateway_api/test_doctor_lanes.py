"""doctor draws Gateway API routes as lanes (client -> Gateway -> implementation -> Service ->
endpoints -> Ray head) and pins the implementation's own status verdicts (RG367) on them."""

from __future__ import annotations

import copy

from raygate import doctor
from raygate.doctor import core
from raygate.sources.files import load_text
from tests.doctor import cluster

GATEWAY_IP = "192.168.1.240"


def snapshot(route_status: str = "True") -> list[dict]:
    objs = [o for o in cluster.healthy() if o["kind"] not in ("Ingress",)
            and not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == "tcp-services")]
    objs += [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "eg"},
         "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "ray-gateway", "namespace": "ray"},
         "spec": {"gatewayClassName": "eg", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": 80},
             {"name": "ray-client", "protocol": "TCP", "port": 10001}]},
         "status": {"addresses": [{"type": "IPAddress", "value": GATEWAY_IP}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "ray-dashboard", "namespace": "ray"},
         "spec": {"parentRefs": [{"name": "ray-gateway", "sectionName": "http"}], "rules": [
             {"matches": [{"path": {"type": "Exact", "value": "/ray"}}],
              "filters": [{"type": "RequestRedirect", "requestRedirect": {
                  "path": {"type": "ReplaceFullPath", "replaceFullPath": "/ray/"}, "statusCode": 301}}]},
             {"matches": [{"path": {"type": "PathPrefix", "value": "/ray/"}}],
              "filters": [{"type": "URLRewrite", "urlRewrite": {
                  "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
              "backendRefs": [{"name": cluster.HEAD_SVC, "port": 8265}],
              "timeouts": {"request": "0s"}}]},
         "status": {"parents": [{"parentRef": {"name": "ray-gateway", "sectionName": "http"},
                                 "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
                                 "conditions": [{"type": "ResolvedRefs", "status": route_status,
                                                 "reason": "ResolvedRefs" if route_status == "True"
                                                 else "BackendNotFound",
                                                 "message": "Service ray/x not found",
                                                 "lastTransitionTime": "2026-12-01T00:00:00Z"}]}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TCPRoute",
         "metadata": {"name": "ray-client", "namespace": "ray"},
         "spec": {"parentRefs": [{"name": "ray-gateway", "sectionName": "ray-client"}],
                  "rules": [{"backendRefs": [{"name": cluster.HEAD_SVC, "port": 10001}]}]}},
    ]
    return objs


def diagnose(objs: list[dict]):
    loaded = load_text(cluster.dump(objs), "snapshot.yaml")
    assert not loaded.problems
    return doctor.diagnose(core.Gathered(loaded.objects, "snapshot", "snapshot.yaml",
                                         files=loaded.files), expect_ips=[GATEWAY_IP])


def test_routes_are_lanes_through_their_gateway() -> None:
    d = diagnose(snapshot())
    lanes = {lane.role: lane for lane in d.lanes}
    assert set(lanes) == {"Dashboard", "Client"}
    dash = lanes["Dashboard"]
    assert dash.route == f"http://{GATEWAY_IP}/ray/"
    assert dash.hop("node").name == "Gateway ray/ray-gateway"
    assert dash.hop("controller").name == "Envoy Gateway (GatewayClass eg)"
    assert dash.hop("service").name == f"ray/{cluster.HEAD_SVC}:8265"
    assert dash.status == "ok", [(h.key, h.status, [f.code for f in h.findings]) for h in dash.hops]
    assert lanes["Client"].route == f"{GATEWAY_IP}:10001"


def test_status_verdicts_break_the_implementation_hop() -> None:
    d = diagnose(snapshot(route_status="False"))
    dash = next(lane for lane in d.lanes if lane.role == "Dashboard")
    assert dash.status == "fail"
    assert {f.code for f in dash.hop("controller").findings} == {"RG367"}
    client = next(lane for lane in d.lanes if lane.role == "Client")
    assert client.status == "ok"  # another route: not this lane's problem


def test_a_passthrough_tlsroute_is_the_client_lane() -> None:
    """Ray Client through a TLS listener in Passthrough mode (KubeRay's guidance) is drawn
    like a TCPRoute: client -> the listener's port -> implementation -> Service -> head."""
    objs = []
    for o in snapshot():
        o = copy.deepcopy(o)
        if o["kind"] == "Gateway":
            o["spec"]["listeners"][1] = {"name": "ray-client", "protocol": "TLS", "port": 443,
                                         "tls": {"mode": "Passthrough"}}
        elif o["kind"] == "TCPRoute":
            o["kind"], o["spec"]["hostnames"] = "TLSRoute", ["client.example.com"]
        objs.append(o)
    lanes = {lane.role: lane for lane in diagnose(objs).lanes}
    client = lanes["Client"]
    assert client.route == f"{GATEWAY_IP}:443"
    assert client.hop("service").name == f"ray/{cluster.HEAD_SVC}:10001"
    assert client.hop("controller").name == "Envoy Gateway (GatewayClass eg)"


def test_a_grpcroute_to_the_client_port_is_the_client_lane() -> None:
    """Ray Client through a GRPCRoute (an L7 gRPC proxy carries it): drawn like the TCPRoute it
    replaces, with what the client dials (the listener's host and port) and the method path,
    and the route's own status verdicts pinned on the implementation hop."""
    objs = []
    for o in snapshot():
        o = copy.deepcopy(o)
        if o["kind"] == "Gateway":
            o["spec"]["listeners"][1] = {"name": "ray-client", "protocol": "HTTP", "port": 10001,
                                         "hostname": "client.example.com"}
        elif o["kind"] == "TCPRoute":
            o["kind"], o["spec"]["hostnames"] = "GRPCRoute", ["client.example.com"]
            o["status"] = {"parents": [{
                "parentRef": {"name": "ray-gateway", "sectionName": "ray-client"},
                "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
                "conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners",
                                "message": "no listener allows GRPCRoute",
                                "lastTransitionTime": "2026-12-01T00:00:00Z"}]}]}
        objs.append(o)
    lanes = {lane.role: lane for lane in diagnose(objs).lanes}
    assert set(lanes) == {"Dashboard", "Client"}
    client = lanes["Client"]
    assert client.route == "grpc://client.example.com:10001/"
    assert client.hop("node").name == "Gateway ray/ray-gateway"
    assert client.hop("controller").name == "Envoy Gateway (GatewayClass eg)"
    assert client.hop("controller").detail.startswith("GRPCRoute ray/ray-client spec.rules[0]")
    assert client.hop("service").name == f"ray/{cluster.HEAD_SVC}:10001"
    assert "RG367" in {f.code for f in client.hop("controller").findings}
    assert client.status == "fail"
    assert lanes["Dashboard"].status == "ok"  # another route's status is not its problem
