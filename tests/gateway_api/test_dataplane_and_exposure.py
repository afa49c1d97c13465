"""Which implementation serves a route, and the exposure rules (RG104 Ray exposed without auth,
RG105 GCS exposed) on Gateway API routes."""

from __future__ import annotations

import textwrap

from raygate import engine
from raygate.backends.gateway_api import dataplane
from raygate.objects import ObjectSet
from raygate.sources.files import load_text

OBJECTS = textwrap.dedent("""
    apiVersion: gateway.networking.k8s.io/v1
    kind: GatewayClass
    metadata: {name: prod}
    spec: {controllerName: gateway.nginx.org/nginx-gateway-controller}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: shared, namespace: infra}
    spec:
      gatewayClassName: prod
      allowedListeners: {namespaces: {from: All}}
      listeners: [{name: web, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: All}}}]
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: Gateway
    metadata: {name: eg, namespace: ray}
    spec:
      gatewayClassName: eg
      listeners: [{name: gcs, protocol: TCP, port: 6379}]
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: ListenerSet
    metadata: {name: ray, namespace: ray}
    spec:
      parentRef: {name: shared, namespace: infra}
      listeners: [{name: ray-client, protocol: TCP, port: 10001}]
    ---
    apiVersion: ray.io/v1
    kind: RayCluster
    metadata: {name: open, namespace: ray}
    spec:
      headGroupSpec:
        rayStartParams: {}
        template: {spec: {containers: [{name: ray-head, image: rayproject/ray:2.52.0}]}}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: dashboard, namespace: ray}
    spec:
      parentRefs: [{name: shared, namespace: infra}]
      rules:
      - backendRefs: [{name: open-head-svc, port: 8265}]
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: TCPRoute
    metadata: {name: client, namespace: ray}
    spec:
      parentRefs: [{kind: ListenerSet, name: ray, sectionName: ray-client}]
      rules:
      - backendRefs: [{name: open-head-svc, port: 10001}]
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: TCPRoute
    metadata: {name: gcs, namespace: ray}
    spec:
      parentRefs: [{name: eg, sectionName: gcs}]
      rules:
      - backendRefs: [{name: open-head-svc, port: 6379}]
""")


def objects() -> ObjectSet:
    loaded = load_text(OBJECTS, "routes.yaml")
    return ObjectSet(loaded.objects)


def test_route_data_plane_follows_gateway_class_controller_name() -> None:
    objs = objects()
    dashboard = objs.get("HTTPRoute", "ray", "dashboard")
    (dp,) = dataplane.for_route(objs, dashboard)
    assert dp.implementation is not None and dp.implementation.key == "nginx-gateway-fabric"
    assert not dp.assumed and "GatewayClass prod -> gateway.nginx.org" in dp.reason
    # Through a ListenerSet, to the Gateway it attaches to.
    (dp,) = dataplane.for_route(objs, objs.get("TCPRoute", "ray", "client"))
    assert dp.gateway.name == "shared"
    # No GatewayClass in the inputs: the installer's default class name, marked assumed.
    (dp,) = dataplane.for_route(objs, objs.get("TCPRoute", "ray", "gcs"))
    assert dp.implementation.key == "envoy-gateway" and dp.assumed


def test_unauthenticated_and_gcs_exposures_through_routes() -> None:
    result = engine.run(objects(), select=["RG104", "RG105"])
    by_code = {(f.code, f.object.kind, f.object.name) for f in result.findings}
    assert ("RG104", "HTTPRoute", "dashboard") in by_code
    assert ("RG105", "TCPRoute", "gcs") in by_code
    assert not any(f.object.kind not in ("HTTPRoute", "TCPRoute") for f in result.findings)


def test_a_route_to_an_authenticated_cluster_is_not_flagged() -> None:
    text = OBJECTS.replace("rayStartParams: {}", "rayStartParams: {}\n  authOptions: {mode: token}")
    text = text.replace("kind: RayCluster\nmetadata: {name: open, namespace: ray}\nspec:\n",
                        "kind: RayCluster\nmetadata: {name: open, namespace: ray}\nspec:\n"
                        "  authOptions: {mode: token}\n")
    result = engine.run(ObjectSet(load_text(text, "routes.yaml").objects), select=["RG104"])
    assert not result.findings
