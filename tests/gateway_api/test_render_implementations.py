"""``render --backend gateway-api --implementation X``: per-implementation objects that the
real CRD schemas accept (Gateway API v1.6.1 / v1.4.1, Envoy Gateway v1.9.0, NGINX Gateway
Fabric v2.6.7), with what Ray needs there and nothing that breaks it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from raygate import spec as spec_mod
from raygate.backends.gateway_api import implementations, units
from raygate.errors import RenderError
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.render import build, outputs
from tests.gateway_api import schemas
from tests.render.support import run_cli as run

IMPLEMENTATIONS = implementations.KEYS
BASE: dict[str, Any] = {
    "backend": "gateway-api", "rayCluster": {"authMode": "token"},
    "gatewayApi": {"gatewayClassName": "ray"},
    "exposures": {"serve": {"path": "/serve"}, "extraTcpPorts": [9000]},
}


def spec_with(**gateway_api: Any) -> spec_mod.GatewaySpec:
    data = copy.deepcopy(BASE)
    data["gatewayApi"].update(gateway_api)
    return spec_mod.from_dict(data, "<test>")


def cluster_of(*docs: dict[str, Any]) -> ObjectSet:
    return ObjectSet([KubeObject(d, Origin("cluster.yaml", i, 1)) for i, d in enumerate(docs)])


def kinds(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def bundle_for(objs: list[dict[str, Any]]) -> str:
    tcp = {o["apiVersion"] for o in kinds(objs, "TCPRoute")}
    return "v1.6.1-experimental" if "gateway.networking.k8s.io/v1alpha2" in tcp else "v1.6.1-standard"


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_every_object_validates_against_the_crds_of_the_version_rendered(impl: str) -> None:
    for version, bundle in (("v1.6", "v1.6.1-standard"), ("v1.4", "v1.4.1-experimental"),
                            (None, None)):
        objs = build(spec_with(implementation=impl, version=version)).objects
        assert kinds(objs, "HTTPRoute") and kinds(objs, "TCPRoute")
        for obj in objs:
            schemas.validate(obj, bundle or bundle_for(objs))


def test_schema_validation_can_fail() -> None:
    objs = build(spec_with(implementation="nginx-gateway-fabric")).objects
    csp = copy.deepcopy(kinds(objs, "ClientSettingsPolicy")[0])
    csp["spec"]["body"]["maxSize"] = "100Mi"  # NGF's pattern is ^\d{1,4}(k|m|g)?$
    with pytest.raises(jsonschema.ValidationError):
        schemas.validate(csp, "v1.6.1-standard")
    tcp = kinds(build(spec_with(version="v1.4")).objects, "TCPRoute")[0]
    v1 = dict(tcp, apiVersion="gateway.networking.k8s.io/v1")
    with pytest.raises(AssertionError, match="not in the v1.4.1"):
        schemas.validate(v1, "v1.4.1-experimental")


# ---------------------------------------------------------------------------------------------
# Envoy Gateway


def test_envoy_gateway_timeouts_and_never_the_request_buffer() -> None:
    objs = build(spec_with(implementation="envoy-gateway")).objects
    text = yaml.safe_dump_all(objs)
    # The buffer filter turns the WebSocket upgrade off (BackendTrafficPolicy docs; its CRD
    # refuses requestBuffer together with httpUpgrade): ray job logs --follow would break.
    assert "requestBuffer" not in text
    dashboard = next(o for o in kinds(objs, "HTTPRoute") if o["metadata"]["name"].endswith("-dashboard"))
    # Envoy's 15 s default route timeout must not apply to the log tail.
    assert dashboard["spec"]["rules"][1]["timeouts"] == {"request": "0s"}
    btp = kinds(objs, "BackendTrafficPolicy")
    assert len(btp) == 1
    assert {r["name"] for r in btp[0]["spec"]["targetRefs"]} == {
        "ray-cluster-kuberay-dashboard", "ray-cluster-kuberay-serve"}
    assert all(r["kind"] == "HTTPRoute" for r in btp[0]["spec"]["targetRefs"])
    assert units.gep_seconds(btp[0]["spec"]["timeout"]["http"]["streamIdleTimeout"]) >= 3600
    ctp = {o["metadata"]["name"]: o for o in kinds(objs, "ClientTrafficPolicy")}
    tcp = ctp["ray-cluster-kuberay-tcp-clients"]["spec"]
    assert {(r["kind"], r["sectionName"]) for r in tcp["targetRefs"]} == {
        ("Gateway", "ray-client"), ("Gateway", "tcp-9000")}
    assert tcp["timeout"]["tcp"]["idleTimeout"] == "1h"
    http = ctp["ray-cluster-kuberay-http-clients"]["spec"]
    assert {r["sectionName"] for r in http["targetRefs"]} == {"http"}
    # CEL rule of the CRD: "this policy can only have a targetRefs[*].kind of Gateway or ListenerSet".
    for policy in ctp.values():
        assert {r["kind"] for r in policy["spec"]["targetRefs"]} <= {"Gateway", "ListenerSet"}
    # v1.9 is built on gateway-api v1.6.1: TCPRoute v1 without any other hint.
    assert {o["apiVersion"] for o in kinds(objs, "TCPRoute")} == {"gateway.networking.k8s.io/v1"}


def test_envoy_gateway_allowlist_is_a_security_policy() -> None:
    data = copy.deepcopy(BASE)
    data["gatewayApi"]["implementation"] = "envoy-gateway"
    data["security"] = {"allowlist": ["10.0.0.0/8", "192.168.1.0/24"]}
    rendered = build(spec_mod.from_dict(data))
    [policy] = kinds(rendered.objects, "SecurityPolicy")
    schemas.validate(policy, "v1.6.1-standard")
    assert policy["spec"]["authorization"] == {"defaultAction": "Deny", "rules": [
        {"name": "allowlist", "action": "Allow",
         "principal": {"clientCIDRs": ["10.0.0.0/8", "192.168.1.0/24"]}}]}
    assert {r["name"] for r in policy["spec"]["targetRefs"]} == {
        "ray-cluster-kuberay-dashboard", "ray-cluster-kuberay-serve"}
    assert not any("allowlist is not rendered" in n for n in rendered.notes)
    # Elsewhere it stays a note: no invented policy.
    data["gatewayApi"]["implementation"] = "nginx-gateway-fabric"
    rendered = build(spec_mod.from_dict(data))
    assert not kinds(rendered.objects, "SecurityPolicy")
    assert any("allowlist is not rendered" in n for n in rendered.notes)


# ---------------------------------------------------------------------------------------------
# NGINX Gateway Fabric


def test_nginx_gateway_fabric_policies_replace_route_timeouts() -> None:
    rendered = build(spec_with(implementation="nginx-gateway-fabric"))
    objs = rendered.objects
    for route in kinds(objs, "HTTPRoute"):
        # Ignored with an UnsupportedField condition (internal/controller/state/graph/httproute.go).
        assert all("timeouts" not in r for r in route["spec"]["rules"])
    csp = kinds(objs, "ClientSettingsPolicy")
    assert {p["spec"]["targetRef"]["name"] for p in csp} == {
        "ray-cluster-kuberay-dashboard", "ray-cluster-kuberay-serve"}
    for p in csp:
        assert p["spec"]["targetRef"]["kind"] == "HTTPRoute"
        assert units.size_bytes(p["spec"]["body"]["maxSize"]) >= 100 * units.MIB
    psp = kinds(objs, "ProxySettingsPolicy")
    assert len(psp) == 1
    timeout = psp[0]["spec"]["timeout"]
    assert units.nginx_seconds(timeout["read"]) >= 3600 and units.nginx_seconds(timeout["send"]) >= 3600
    # NGF 2.6.7 reconciles TCPRoute v1alpha2 only (v1 merged after 2.6.7, #5604).
    assert {o["apiVersion"] for o in kinds(objs, "TCPRoute")} == {
        "gateway.networking.k8s.io/v1alpha2"}
    assert any("experimental" in n for n in rendered.notes)


def test_ngf_sizes_and_durations_fit_its_one_unit_syntax() -> None:
    spec = spec_mod.from_dict({**BASE, "gatewayApi": {"gatewayClassName": "ngf",
                                                      "implementation": "nginx-gateway-fabric"},
                               "tuning": {"bodySize": "20000m", "readTimeout": 36000,
                                          "sendTimeout": 90}})
    objs = build(spec).objects
    for obj in objs:
        schemas.validate(obj, "v1.6.1-experimental")
    psp = kinds(objs, "ProxySettingsPolicy")[0]["spec"]["timeout"]
    assert psp == {"read": "600m", "send": "90s"}
    assert kinds(objs, "ClientSettingsPolicy")[0]["spec"]["body"]["maxSize"] == "20g"


# ---------------------------------------------------------------------------------------------
# Traefik, Istio, Kong, Cilium, generic


def test_traefik_needs_an_entrypoint_per_listener_port() -> None:
    rendered = build(spec_with(implementation="traefik"))
    note = next(n for n in rendered.notes if "static entryPoint" in n)
    assert "--entryPoints.ray-client.address=:10001/tcp" in note
    assert "--entryPoints.tcp-9000.address=:9000/tcp" in note
    assert "--entryPoints.http.address=:80" in note
    assert not {"BackendTrafficPolicy", "ClientSettingsPolicy"} & {o["kind"] for o in rendered.objects}


@pytest.mark.parametrize("impl,flag", [("istio", "PILOT_ENABLE_ALPHA_GATEWAY_API"),
                                       ("kong", "experimental-channel CRDs")])
def test_tcp_prerequisites_are_noted(impl: str, flag: str) -> None:
    assert any(flag in n for n in build(spec_with(implementation=impl)).notes)


def test_generic_renders_spec_objects_only() -> None:
    objs = build(spec_with()).objects
    assert {o["apiVersion"].split("/")[0] for o in objs} == {"gateway.networking.k8s.io"}


# ---------------------------------------------------------------------------------------------
# TCPRoute apiVersion: the spec, then the CRDs in the inputs, then the release, then the
# implementation


@pytest.mark.parametrize("version,expected", [("v1.6", "v1"), ("v1.6.1", "v1"), ("1.5", "v1alpha2"),
                                              ("v1.4", "v1alpha2")])
def test_tcproute_version_follows_the_release(version: str, expected: str) -> None:
    objs = build(spec_with(version=version)).objects
    assert {o["apiVersion"] for o in kinds(objs, "TCPRoute")} == {f"gateway.networking.k8s.io/{expected}"}


@pytest.mark.parametrize("bundle,expected", [("v1.6.1-standard", "v1"),
                                             ("v1.6.1-experimental", "v1"),
                                             ("v1.4.1-experimental", "v1alpha2")])
def test_tcproute_version_is_detected_from_crds_in_the_inputs(bundle: str, expected: str) -> None:
    cluster = cluster_of(*schemas.crd_objects(bundle))
    rendered = build(spec_with(implementation="generic"), cluster=cluster)
    assert {o["apiVersion"] for o in kinds(rendered.objects, "TCPRoute")} == {
        f"gateway.networking.k8s.io/{expected}"}
    assert any("served by the TCPRoute CRD in the inputs" in n for n in rendered.notes)
    for obj in rendered.objects:
        schemas.validate(obj, bundle)


def test_a_version_the_crds_do_not_serve_is_refused() -> None:
    cluster = cluster_of(*schemas.crd_objects("v1.6.1-standard"))
    with pytest.raises(RenderError, match="serves only v1"):
        build(spec_with(tcpRouteApiVersion="v1alpha2"), cluster=cluster)


def test_an_implementation_that_cannot_watch_the_served_version_is_a_warning() -> None:
    cluster = cluster_of(*schemas.crd_objects("v1.6.1-standard"))
    rendered = build(spec_with(implementation="nginx-gateway-fabric"), cluster=cluster)
    assert any("NGINX Gateway Fabric v2.6.7 watches TCPRoute v1alpha2, which the TCPRoute CRD "
               "in the inputs does not serve (v1)" in w for w in rendered.warnings)
    # The experimental v1.6.1 CRDs serve both: a v1 object is visible as v1alpha2 too.
    cluster = cluster_of(*schemas.crd_objects("v1.6.1-experimental"))
    rendered = build(spec_with(implementation="nginx-gateway-fabric"), cluster=cluster)
    assert not any("watches TCPRoute" in w for w in rendered.warnings)


# ---------------------------------------------------------------------------------------------
# A shared Gateway: reuse its listeners, add the missing ones through a ListenerSet


def shared_gateway(allowed_listeners: str | None = "All") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "gatewayClassName": "eg",
        "listeners": [{"name": "web", "protocol": "HTTP", "port": 80,
                       "allowedRoutes": {"namespaces": {"from": "All"}}}]}
    if allowed_listeners:
        spec["allowedListeners"] = {"namespaces": {"from": allowed_listeners}}
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "shared", "namespace": "infra"}, "spec": spec}


def shared_spec(**extra: Any) -> spec_mod.GatewaySpec:
    return spec_with(createGateway=False, gatewayName="shared", gatewayNamespace="infra",
                     implementation="envoy-gateway", **extra)


def test_shared_gateway_gets_a_listener_set_for_what_it_lacks() -> None:
    rendered = build(shared_spec(), cluster=cluster_of(shared_gateway()))
    objs = rendered.objects
    assert not kinds(objs, "Gateway")
    ls = kinds(objs, "ListenerSet")
    assert len(ls) == 1
    assert ls[0]["metadata"]["namespace"] == "raycluster"
    assert ls[0]["spec"]["parentRef"] == {"group": "gateway.networking.k8s.io",
                                          "kind": "Gateway", "name": "shared",
                                          "namespace": "infra"}
    assert [l["name"] for l in ls[0]["spec"]["listeners"]] == ["tcp-9000", "ray-client"]  # by port
    for route in kinds(objs, "HTTPRoute"):
        # The shared Gateway's own HTTP listener admits routes from all namespaces: reuse it.
        assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io",
                                                "kind": "Gateway", "name": "shared",
                                                "namespace": "infra", "sectionName": "web"}]
    for route in kinds(objs, "TCPRoute"):
        assert route["spec"]["parentRefs"][0]["kind"] == "ListenerSet"
    # Policies only on listeners raygate declares (the ListenerSet's), never the shared ones.
    for ctp in kinds(objs, "ClientTrafficPolicy"):
        assert {r["kind"] for r in ctp["spec"]["targetRefs"]} == {"ListenerSet"}
    for obj in objs:
        schemas.validate(obj, bundle_for(objs))


def test_shared_gateway_on_v1_4_gets_an_xlistenerset() -> None:
    objs = build(shared_spec(version="v1.4"), cluster=cluster_of(shared_gateway())).objects
    ls = kinds(objs, "XListenerSet")
    assert len(ls) == 1 and ls[0]["apiVersion"] == "gateway.networking.x-k8s.io/v1alpha1"
    for obj in objs:
        schemas.validate(obj, "v1.4.1-experimental")


def test_shared_gateway_that_refuses_listener_sets() -> None:
    cluster = cluster_of(shared_gateway(allowed_listeners=None))
    rendered = build(shared_spec(), cluster=cluster)
    assert not kinds(rendered.objects, "ListenerSet")
    assert any("it needs the listeners tcp-9000 (TCP 9000), ray-client (TCP 10001)" in n for n in rendered.notes)
    with pytest.raises(RenderError, match="does not accept ListenerSets from namespace raycluster"):
        build(shared_spec(listenerSet=True), cluster=cluster)


def _with_tcp_ports(spec: spec_mod.GatewaySpec, n: int) -> spec_mod.GatewaySpec:
    data = spec.model_dump(by_alias=True, exclude_none=True)
    data["exposures"]["extraTcpPorts"] = list(range(20000, 20000 + n))
    return spec_mod.from_dict(data, "<test>")


def test_a_gateway_and_a_listener_set_hold_at_most_64_listeners() -> None:
    """``spec.listeners`` has ``maxItems: 64`` in both CRDs (v1.6.1): render refuses what the
    API server would, and says why a full shared Gateway needs a ListenerSet."""
    # Our own Gateway: HTTP + Ray Client + the extra ports.
    fits = _with_tcp_ports(spec_with(), 62)
    assert len(kinds(build(fits).objects, "Gateway")[0]["spec"]["listeners"]) == 64
    with pytest.raises(RenderError, match="more than 64 listeners"):
        build(_with_tcp_ports(spec_with(), 63))
    # A ListenerSet for a shared Gateway: Ray Client + the extra ports.
    cluster = cluster_of(shared_gateway())
    ls = kinds(build(_with_tcp_ports(shared_spec(), 63), cluster=cluster).objects, "ListenerSet")
    assert len(ls[0]["spec"]["listeners"]) == 64
    with pytest.raises(RenderError, match="the ListenerSet would need 65 listeners"):
        build(_with_tcp_ports(shared_spec(), 64), cluster=cluster)
    # A shared Gateway that refuses ListenerSets and is nearly full: the note says so.
    full = shared_gateway(allowed_listeners=None)
    full["spec"]["listeners"] += [{"name": f"l{i}", "protocol": "TCP", "port": 30000 + i}
                                  for i in range(62)]
    rendered = build(shared_spec(), cluster=cluster_of(full))
    assert any("it already has 63 listeners, and a Gateway holds at most 64" in n
               for n in rendered.notes), rendered.notes
    roomy = build(shared_spec(), cluster=cluster_of(shared_gateway(allowed_listeners=None)))
    assert not any("holds at most 64" in n for n in roomy.notes)


def test_selector_allowed_listeners_use_the_namespace_labels() -> None:
    gw = shared_gateway("Selector")
    gw["spec"]["allowedListeners"]["namespaces"]["selector"] = {"matchLabels": {"team": "ml"}}
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": "raycluster", "labels": {"team": "ml"}}}
    assert kinds(build(shared_spec(), cluster=cluster_of(gw, ns)).objects, "ListenerSet")
    assert not kinds(build(shared_spec(), cluster=cluster_of(gw)).objects, "ListenerSet")


# ---------------------------------------------------------------------------------------------
# Lint and the command line


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_raygate_lint_is_clean(impl: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(outputs.yaml_stream(build(spec_with(implementation=impl))), encoding="utf-8")
    code, out, err = run(capsys, "lint", str(path), "--fail-on", "info", "--format", "json")
    assert code == 0, out + err
    assert yaml.safe_load(out)["findings"] == []


def test_command_line(capsys, tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump_all([shared_gateway()] + schemas.crd_objects("v1.6.1-standard")),
                       encoding="utf-8")
    code, out, err = run(capsys, "render", "--backend", "gateway-api", "--auth-mode", "token",
                         "--implementation", "envoy-gateway", "--gateway", "infra/shared",
                         "--cluster-manifest", str(cluster))
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["kind"] for d in docs] == ["ListenerSet", "HTTPRoute", "TCPRoute",
                                         "BackendTrafficPolicy", "ClientTrafficPolicy"]
    assert docs[2]["apiVersion"] == "gateway.networking.k8s.io/v1"
    code, out, err = run(capsys, "render", "--backend", "gateway-api", "--auth-mode", "token",
                         "--gateway", "shared")
    assert code == 2 and "NAMESPACE/NAME" in err
    code, out, err = run(capsys, "render", "--backend", "gateway-api", "--auth-mode", "token",
                         "--gateway-class", "x", "--gateway-api-version", "latest")
    assert code == 2 and "gatewayApi.version" in err
