"""The Gateway API backend (``backend: gateway-api``): the same exposure as Gateway, HTTPRoute,
TCPRoute and ReferenceGrant objects, valid against the real CRD schemas, secure by default,
deterministic, and routing /ray, /ray/ and /rayfoo the way the Gateway API spec says."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from raygate import spec as spec_mod
from raygate.errors import RenderError, SpecError
from raygate.render import build, gateway_api, outputs, render
from tests.render.support import run_cli as run

GOLDEN = Path(__file__).resolve().parent / "golden"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
UPDATE = os.environ.get("RAYGATE_UPDATE_GOLDEN") == "1"

_GW = {"backend": "gateway-api", "gatewayApi": {"gatewayClassName": "eg"}}

#: name -> spec data; every case uses the Gateway API backend.
CASES: dict[str, dict[str, Any]] = {
    "pinned": {**_GW, "rayCluster": {"authMode": "token"},
               "placement": {"pinnedNode": {"nodeName": "node-33"}},
               "exposures": {"extraTcpPorts": [9000]}},
    "metallb-serve": {**_GW, "rayCluster": {"authMode": "token"},
                      "placement": {"mode": "metallb", "metallb": {"ip": "192.168.1.240"}},
                      "exposures": {"serve": {"path": "/serve"}, "extraTcpPorts": [9000]}},
    "tls-cross-namespace": {
        "name": "gw", "backend": "gateway-api",
        "rayCluster": {"name": "prod-ray", "namespace": "ml-prod", "headService": "prod-head",
                       "authMode": "token"},
        "placement": {"mode": "metallb",
                      "metallb": {"pool": "edge-pool", "addresses": ["10.10.0.0/28"]}},
        "exposures": {"host": "ray.example.com", "dashboard": {"path": "/dash"},
                      "serve": {"path": "/apps"}, "rayClient": {"port": 20001},
                      "extraTcpPorts": [{"port": 9100, "servicePort": 9000}]},
        "security": {"allowlist": ["10.0.0.0/8"], "tls": {"secretName": "gw-tls"}},
        "tuning": {"readTimeout": 7200},
        "gatewayApi": {"gatewayClassName": "cilium", "gatewayName": "edge",
                       "gatewayNamespace": "gateway-system", "routeNamespace": "ray-routes",
                       "tcpRouteApiVersion": "v1", "httpPort": 8080, "httpsPort": 8443},
    },
    "existing-gateway-no-client": {
        "backend": "gateway-api", "rayCluster": {"authMode": "token"},
        "exposures": {"rayClient": {"enabled": False}},
        "gatewayApi": {"createGateway": False, "gatewayName": "shared",
                       "gatewayNamespace": "infra"},
    },
    "gcs-enabled": {**_GW, "rayCluster": {"authMode": "token"},
                    "exposures": {"gcs": {"enabled": True}}},
}
NAMES = sorted(CASES)
GOLDEN_CASE = ("gateway-api-tls-cross-namespace.yaml", "tls-cross-namespace")

CRDS = {"Gateway": "gateway.networking.k8s.io_gateways.yaml",
        "HTTPRoute": "gateway.networking.k8s.io_httproutes.yaml",
        "TCPRoute": "gateway.networking.k8s.io_tcproutes.yaml",
        "ReferenceGrant": "gateway.networking.k8s.io_referencegrants.yaml",
        "IPAddressPool": "metallb.io_ipaddresspools.yaml",
        "L2Advertisement": "metallb.io_l2advertisements.yaml"}


def spec_for(name: str) -> spec_mod.GatewaySpec:
    return spec_mod.from_dict(CASES[name], f"<gateway-api:{name}>")


def objects(name: str) -> list[dict[str, Any]]:
    return render(spec_for(name))


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


# ---------------------------------------------------------------------------------------------
# Schemas


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused (the API server's strict field validation
    would reject them; jsonschema alone would let a typo through)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_schema(kind: str, version: str) -> dict[str, Any]:
    path = CORPUS / "crds" / CRDS[kind]
    if not path.is_file():
        pytest.skip("../shared/corpus/crds is absent")
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert found, f"{kind} {version} is not in {path.name}"
    schema = _strict(found[0]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta is the server's
    return schema


@pytest.mark.parametrize("name", NAMES)
def test_every_object_validates_against_its_crd_or_kubernetes(name: str) -> None:
    objs = objects(name)
    assert objs
    for obj in objs:
        if obj["kind"] in CRDS:
            version = obj["apiVersion"].rpartition("/")[2]
            jsonschema.validate(obj, crd_schema(obj["kind"], version))
            continue
        # Built-in kinds (none today): the Kubernetes 1.30 and 1.35 schemas, strictly.
        for k8s in ("1.30.0", "1.35.0"):
            kubernetes_validate.validate(copy.deepcopy(obj), k8s, strict=True)


def test_schema_check_can_fail() -> None:
    """The strict CRD check is real: a misspelt field and a bad enum are refused."""
    route = by_kind(objects("pinned"), "HTTPRoute")[0]
    typo = copy.deepcopy(route)
    typo["spec"]["rules"][1]["timeout"] = {"request": "0s"}
    bad_enum = copy.deepcopy(route)
    bad_enum["spec"]["rules"][0]["filters"][0]["requestRedirect"]["statusCode"] = 418
    for bad in (typo, bad_enum):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, crd_schema("HTTPRoute", "v1"))


def test_tcproute_version_is_v1alpha2_by_default_and_v1_on_request() -> None:
    assert {o["apiVersion"] for o in by_kind(objects("pinned"), "TCPRoute")} == \
        {"gateway.networking.k8s.io/v1alpha2"}
    assert {o["apiVersion"] for o in by_kind(objects("tls-cross-namespace"), "TCPRoute")} == \
        {"gateway.networking.k8s.io/v1"}
    rendered = build(spec_for("pinned"))
    assert any("v1alpha2" in n and "tcpRouteApiVersion: v1" in n for n in rendered.notes)


# ---------------------------------------------------------------------------------------------
# What is rendered


def test_pinned_gateway_listeners_and_routes() -> None:
    objs = objects("pinned")
    assert [o["kind"] for o in objs] == ["Gateway", "HTTPRoute", "TCPRoute", "TCPRoute"]
    gw = objs[0]
    assert gw["spec"]["gatewayClassName"] == "eg"
    assert "infrastructure" not in gw["spec"] and "addresses" not in gw["spec"]
    listeners = {l["name"]: l for l in gw["spec"]["listeners"]}
    assert {n: (l["protocol"], l["port"]) for n, l in listeners.items()} == {
        "http": ("HTTP", 80), "ray-client": ("TCP", 10001), "tcp-9000": ("TCP", 9000)}
    for l in listeners.values():
        assert l["allowedRoutes"]["namespaces"] == {"from": "Same"}
    assert listeners["ray-client"]["allowedRoutes"]["kinds"][0]["kind"] == "TCPRoute"
    tcp = {o["spec"]["parentRefs"][0]["sectionName"]: o["spec"]["rules"][0]["backendRefs"][0]
           for o in by_kind(objs, "TCPRoute")}
    assert tcp == {
        "ray-client": {"group": "", "kind": "Service", "name": "ray-cluster-kuberay-head-svc",
                       "port": 10001},
        "tcp-9000": {"group": "", "kind": "Service", "name": "ray-cluster-kuberay-head-svc",
                     "port": 9000}}
    notes = " ".join(build(spec_for("pinned")).notes)
    assert "pinned-node has no Gateway API equivalent" in notes


def test_dashboard_route_redirects_and_strips_with_timeouts() -> None:
    route = by_kind(objects("pinned"), "HTTPRoute")[0]
    redirect, strip = route["spec"]["rules"]
    assert redirect["matches"] == [{"path": {"type": "Exact", "value": "/ray"}}]
    assert redirect["filters"][0]["requestRedirect"] == {
        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/ray/"}, "statusCode": 301}
    assert "backendRefs" not in redirect
    assert strip["matches"] == [{"path": {"type": "PathPrefix", "value": "/ray/"}}]
    assert strip["filters"][0]["urlRewrite"]["path"] == {"type": "ReplacePrefixMatch",
                                                         "replacePrefixMatch": "/"}
    assert strip["backendRefs"][0]["port"] == 8265
    assert strip["timeouts"] == {"request": "0s"}


def test_metallb_goes_through_infrastructure_annotations() -> None:
    objs = objects("metallb-serve")
    assert [o["kind"] for o in objs[:2]] == ["IPAddressPool", "L2Advertisement"]
    gw = by_kind(objs, "Gateway")[0]
    assert gw["spec"]["infrastructure"] == {
        "annotations": {"metallb.io/loadBalancerIPs": "192.168.1.240"}}
    serve = [o for o in by_kind(objs, "HTTPRoute") if o["metadata"]["name"].endswith("-serve")]
    assert serve[0]["spec"]["rules"][0]["backendRefs"][0]["port"] == 8000
    # No total timeout: the spec's 1 h read timeout is an idle bound, not a response's length.
    assert serve[0]["spec"]["rules"][0]["timeouts"] == {"request": "0s"}
    # A pool without a pinned IP asks for the pool instead, and says the address may move.
    cross = by_kind(objects("tls-cross-namespace"), "Gateway")[0]
    assert cross["spec"]["infrastructure"]["annotations"] == {"metallb.io/address-pool": "edge-pool"}
    assert any("any free address" in n for n in build(spec_for("tls-cross-namespace")).notes)


def test_without_serve_there_is_no_serve_route() -> None:
    assert [o["metadata"]["name"] for o in by_kind(objects("pinned"), "HTTPRoute")] == \
        ["ray-cluster-kuberay-dashboard"]


def test_cross_namespace_tls_custom_names() -> None:
    objs = objects("tls-cross-namespace")
    kinds = [o["kind"] for o in objs]
    # Apply order: placement, grants, Gateway, HTTP routes, TCP routes.
    assert kinds == ["IPAddressPool", "L2Advertisement", "ReferenceGrant", "ReferenceGrant",
                     "Gateway", "HTTPRoute", "HTTPRoute", "HTTPRoute", "TCPRoute", "TCPRoute"]
    routes_grant, tls_grant = by_kind(objs, "ReferenceGrant")
    assert routes_grant["metadata"]["namespace"] == "ml-prod"
    assert routes_grant["spec"] == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "ray-routes"},
                 {"group": "gateway.networking.k8s.io", "kind": "TCPRoute", "namespace": "ray-routes"}],
        "to": [{"group": "", "kind": "Service", "name": "prod-head"}]}
    assert tls_grant["spec"] == {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                  "namespace": "gateway-system"}],
        "to": [{"group": "", "kind": "Secret", "name": "gw-tls"}]}
    gw = by_kind(objs, "Gateway")[0]
    assert (gw["metadata"]["name"], gw["metadata"]["namespace"]) == ("edge", "gateway-system")
    listeners = {l["name"]: l for l in gw["spec"]["listeners"]}
    assert {n: l["port"] for n, l in listeners.items()} == {
        "http": 8080, "https": 8443, "ray-client": 20001, "tcp-9100": 9100}
    assert listeners["https"]["tls"] == {"mode": "Terminate", "certificateRefs": [
        {"group": "", "kind": "Secret", "name": "gw-tls", "namespace": "ml-prod"}]}
    assert listeners["https"]["hostname"] == "ray.example.com"
    assert "hostname" not in listeners["ray-client"]
    for l in listeners.values():
        assert l["allowedRoutes"]["namespaces"] == {"from": "Selector", "selector": {
            "matchLabels": {"kubernetes.io/metadata.name": "ray-routes"}}}
    routes = {o["metadata"]["name"]: o for o in by_kind(objs, "HTTPRoute")}
    assert set(routes) == {"gw-dashboard", "gw-serve", "gw-https-redirect"}
    for r in routes.values():
        assert r["metadata"]["namespace"] == "ray-routes"
        assert r["spec"]["hostnames"] == ["ray.example.com"]
        assert r["spec"]["parentRefs"][0]["namespace"] == "gateway-system"
    assert routes["gw-dashboard"]["spec"]["parentRefs"][0]["sectionName"] == "https"
    backend = routes["gw-dashboard"]["spec"]["rules"][1]["backendRefs"][0]
    assert (backend["namespace"], backend["name"]) == ("ml-prod", "prod-head")
    assert routes["gw-serve"]["spec"]["rules"][0]["timeouts"] == {"request": "0s"}
    http = routes["gw-https-redirect"]["spec"]
    assert http["parentRefs"][0]["sectionName"] == "http"
    assert http["rules"][0]["filters"][0]["requestRedirect"] == {
        "scheme": "https", "statusCode": 301, "port": 8443}
    client = next(o for o in by_kind(objs, "TCPRoute") if o["metadata"]["name"] == "gw-ray-client")
    assert client["spec"]["rules"][0]["backendRefs"][0]["port"] == 10001  # the Service's port


def test_same_namespace_needs_no_reference_grant() -> None:
    for name in ("pinned", "metallb-serve", "gcs-enabled"):
        objs = objects(name)
        assert not by_kind(objs, "ReferenceGrant")
        for o in objs:
            for ref in _backend_refs(o):
                assert "namespace" not in ref


def _backend_refs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] not in ("HTTPRoute", "TCPRoute"):
        return []
    return [b for r in obj["spec"]["rules"] for b in r.get("backendRefs") or []]


def test_existing_gateway_is_not_rendered_and_its_listeners_are_named() -> None:
    rendered = build(spec_for("existing-gateway-no-client"))
    assert [o["kind"] for o in rendered.objects] == ["HTTPRoute"]
    parent = rendered.objects[0]["spec"]["parentRefs"][0]
    assert parent == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared",
                      "namespace": "infra", "sectionName": "http"}
    assert any("existing Gateway infra/shared" in n and "http (HTTP 80)" in n
               for n in rendered.notes)


def test_gcs_only_when_enabled_and_then_with_a_warning() -> None:
    for name in NAMES:
        ports = [l["port"] for g in by_kind(objects(name), "Gateway")
                 for l in g["spec"]["listeners"]]
        assert (6379 in ports) == (name == "gcs-enabled")
    rendered = build(spec_for("gcs-enabled"))
    assert any("GCS" in w for w in rendered.warnings)
    assert "gcs" in {o["spec"]["parentRefs"][0]["sectionName"]
                     for o in by_kind(rendered.objects, "TCPRoute")}


@pytest.mark.parametrize("name", NAMES)
def test_owned_labels_and_no_external_ips(name: str) -> None:
    for obj in objects(name):
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "raygate"
        assert "addresses" not in obj.get("spec", {}) or obj["kind"] == "IPAddressPool"
        assert "externalIPs" not in yaml.safe_dump(obj)


def test_allowlist_and_body_size_are_notes_not_invented_policies() -> None:
    rendered = build(spec_for("tls-cross-namespace"))
    notes = " ".join(rendered.notes)
    assert "security.allowlist is not rendered" in notes
    assert "body size" in notes and "ClientSettingsPolicy" in notes
    assert {o["apiVersion"].split("/")[0] for o in rendered.objects} <= {
        "gateway.networking.k8s.io", "metallb.io"}
    text = outputs.yaml_stream(rendered)
    assert "security.allowlist (10.0.0.0/8) is NOT enforced here" in text


# ---------------------------------------------------------------------------------------------
# Determinism, golden file, lint


@pytest.mark.parametrize("name", NAMES)
def test_output_is_deterministic(name: str) -> None:
    first = outputs.yaml_stream(build(spec_for(name)))
    assert first == outputs.yaml_stream(build(spec_for(name)))
    assert outputs.split_files(build(spec_for(name))) == outputs.split_files(build(spec_for(name)))


def test_output_matches_golden_file() -> None:
    golden, name = GOLDEN_CASE
    text = outputs.yaml_stream(build(spec_for(name)))
    path = GOLDEN / golden
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing {path}; run with RAYGATE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), \
        f"{golden} changed; if intended, regenerate with RAYGATE_UPDATE_GOLDEN=1 and review"


@pytest.mark.parametrize("name", [n for n in NAMES if n != "gcs-enabled"])
def test_raygate_lint_is_clean(name: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(outputs.yaml_stream(build(spec_for(name))), encoding="utf-8")
    code, out, err = run(capsys, "lint", str(path), "--fail-on", "info", "--format", "json")
    assert code == 0, out + err
    report = yaml.safe_load(out)
    assert report["findings"] == [], report["findings"]


# ---------------------------------------------------------------------------------------------
# Refusals and the command line


def test_refuses_without_token_auth() -> None:
    data = copy.deepcopy(CASES["pinned"])
    data["rayCluster"]["authMode"] = "disabled"
    with pytest.raises(SpecError, match="spec.authOptions.mode: token"):
        build(spec_mod.from_dict(data))
    del data["rayCluster"]["authMode"]
    with pytest.raises(SpecError, match="cannot tell whether"):
        build(spec_mod.from_dict(data))


def test_missing_gateway_class_names_the_field() -> None:
    text = "backend: gateway-api\nrayCluster: {authMode: token}\n"
    with pytest.raises(SpecError) as e:
        spec_mod.loads(text, "raygate.yaml")
    assert str(e.value).startswith("raygate.yaml")
    assert "gatewayApi.gatewayClassName is required with backend gateway-api" in str(e.value)
    # Attaching to an existing Gateway needs no class.
    spec_mod.loads(text + "gatewayApi: {createGateway: false}\n")
    # The ingress-nginx backend never asks for it.
    spec_mod.loads("rayCluster: {authMode: token}\n")


def test_tcp_port_cannot_be_an_http_listener_port() -> None:
    with pytest.raises(SpecError, match="exposures.extraTcpPorts.0..port 8080 is also an HTTP"):
        spec_mod.from_dict({**_GW, "gatewayApi": {"gatewayClassName": "eg", "httpPort": 8080},
                            "exposures": {"extraTcpPorts": [8080]}})


@pytest.mark.parametrize("fmt", ["helm-values", "kustomize"])
def test_ingress_nginx_formats_are_refused(fmt: str, capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, "render", "--backend", "gateway-api", "--gateway-class", "eg",
                         "--auth-mode", "token", "--format", fmt, "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert f"--format {fmt} is for the ingress-nginx controller" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(RenderError):
        outputs.files_for(fmt, spec_for("pinned"), build(spec_for("pinned")))


def test_command_line_flags_and_out_dir(capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, "render", "--backend", "gateway-api", "--gateway-class", "eg",
                         "--auth-mode", "token", "--gateway-name", "g", "--gateway-namespace", "gw",
                         "--route-namespace", "r", "--tcp-route-api-version", "v1",
                         "--http-port", "8080", "--https-port", "8443", "--tcp-port", "9000")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["kind"] for d in docs] == ["ReferenceGrant", "Gateway", "HTTPRoute", "TCPRoute",
                                         "TCPRoute"]
    assert docs[1]["metadata"] == {"name": "g", "namespace": "gw",
                                   "labels": {"app.kubernetes.io/managed-by": "raygate"}}
    assert "raygate: note: body size" in err
    code, out, err = run(capsys, "render", "--set", "backend=gateway-api",
                         "--set", "gatewayApi.createGateway=false", "--auth-mode", "token",
                         "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "01-httproute-ray-cluster-kuberay-dashboard.yaml",
        "02-tcproute-ray-cluster-kuberay-ray-client.yaml"]


def test_commented_spec_loads_back_equal() -> None:
    for name in NAMES:
        s = spec_for(name)
        text = spec_mod.commented(s)
        assert "backend: gateway-api" in text
        assert spec_mod.loads(text) == s


# ---------------------------------------------------------------------------------------------
# The routing model (Gateway API path matching: Exact first, then the longest PathPrefix,
# element-wise, trailing slash ignored)


def test_routing_model_on_the_rendered_rules() -> None:
    rules = by_kind(objects("pinned"), "HTTPRoute")[0]["spec"]["rules"]
    redirect, strip = 0, 1
    assert gateway_api.route(rules, "/ray") == redirect
    assert gateway_api.route(rules, "/ray/") == strip
    assert gateway_api.route(rules, "/ray/api/jobs/") == strip
    assert gateway_api.route(rules, "/rayfoo") is None
    assert gateway_api.route(rules, "/") is None
    assert gateway_api.route(rules, "/RAY") is None  # matching is case-sensitive
    prefix = rules[strip]["matches"][0]["path"]["value"]
    replacement = rules[strip]["filters"][0]["urlRewrite"]["path"]["replacePrefixMatch"]
    assert gateway_api.rewrite_prefix(prefix, replacement, "/ray/") == "/"
    assert gateway_api.rewrite_prefix(prefix, replacement, "/ray/api/jobs/") == "/api/jobs/"
    assert gateway_api.rewrite_prefix(prefix, replacement, "/ray/static/x.js") == "/static/x.js"


def test_routing_model_follows_the_spec_tables() -> None:
    """The ReplacePrefixMatch table and PathPrefix semantics from the Gateway API spec."""
    assert gateway_api.rewrite_prefix("/foo", "/xyz", "/foo/bar") == "/xyz/bar"
    assert gateway_api.rewrite_prefix("/foo", "/", "/foo/") == "/"
    assert gateway_api.rewrite_prefix("/foo", "/", "/foo") == "/"
    assert gateway_api.rewrite_prefix("/foo", "", "/foo/bar") == "/bar"
    rules = [{"matches": [{"path": {"type": "PathPrefix", "value": "/abc"}}]}]
    assert [gateway_api.route(rules, p) for p in ("/abc", "/abc/", "/abc/def", "/abcd")] == \
        [0, 0, 0, None]
    # The longest prefix wins over list order.
    rules = [{"matches": [{"path": {"type": "PathPrefix", "value": "/a"}}]},
             {"matches": [{"path": {"type": "PathPrefix", "value": "/a/b"}}]}]
    assert gateway_api.route(rules, "/a/b/c") == 1 and gateway_api.route(rules, "/a/c") == 0


def test_duration_is_a_gateway_api_duration() -> None:
    assert [gateway_api.duration(s) for s in (3600, 90, 7261, 0)] == ["1h", "1m30s", "2h1m1s", "0s"]
