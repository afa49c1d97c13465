"""``raygate migrate``: path forms, tcp-services, settings into policies, the report's verdicts
(an error whenever a Ray path would be worse), valid objects, and the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from raygate import engine
from raygate.migrate import Options, convert_path, migrate, report_html, report_json, report_text
from raygate.objects import ObjectSet
from raygate.sources.files import load_paths, load_text
from tests.gateway_api import schemas
from tests.render.support import CORPUS, run_cli as run

# The seed guide's setup: the capture-group Dashboard path ingress2gateway drops, a Serve
# path, tcp-services for Ray Client, and the controller ConfigMap's settings.
SETUP = textwrap.dedent("""
    apiVersion: ray.io/v1
    kind: RayCluster
    metadata: {name: raycluster-kuberay, namespace: ray}
    spec:
      authOptions: {mode: token}
      headGroupSpec:
        rayStartParams: {}
        template: {spec: {containers: [{name: ray-head, image: rayproject/ray:2.52.0}]}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: ray-dashboard
      namespace: ray
      annotations:
        nginx.ingress.kubernetes.io/rewrite-target: /$2
        nginx.ingress.kubernetes.io/use-regex: "true"
        nginx.ingress.kubernetes.io/proxy-read-timeout: "7200"
    spec:
      ingressClassName: nginx
      rules:
      - http:
          paths:
          - path: /ray(/|$)(.*)
            pathType: ImplementationSpecific
            backend: {service: {name: raycluster-kuberay-head-svc, port: {number: 8265}}}
          - path: /serve(/|$)(.*)
            pathType: ImplementationSpecific
            backend: {service: {name: raycluster-kuberay-head-svc, port: {number: 8000}}}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: tcp-services, namespace: ingress-nginx}
    data:
      "10001": ray/raycluster-kuberay-head-svc:10001
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
    data:
      proxy-body-size: 500m
      proxy-send-timeout: "7200"
""")


def run_migrate(text: str = SETUP, **options) -> object:
    options.setdefault("gateway_class", "ray")
    return migrate(ObjectSet(load_text(text, "setup.yaml").objects), Options(**options))


def kinds(objs, kind):
    return [o for o in objs if o["kind"] == kind]


# ---------------------------------------------------------------------------------------------
# Paths


@pytest.mark.parametrize("path,rewrite,match,replace", [
    # The seed guide's form and raygate's own: both are prefix strips.
    ("/ray(/|$)(.*)", "/$2", ("PathPrefix", "/ray/"), "/"),
    ("/ray/(.*)", "/$1", ("PathPrefix", "/ray/"), "/"),
    ("/api/v1(/|$)(.*)", "/v1/$2", ("PathPrefix", "/api/v1/"), "/v1/"),
    ("^/ray/(.*)$", "/$1", ("PathPrefix", "/ray/"), "/"),
])
def test_capture_group_strips_become_replace_prefix_match(path, rewrite, match, replace) -> None:
    conv = convert_path(path, "ImplementationSpecific", True, rewrite)
    assert (conv.match["path"]["type"], conv.match["path"]["value"]) == match
    assert conv.replace_prefix == replace and conv.status == "approximated"


def test_other_path_forms() -> None:
    assert convert_path("/ray$", "ImplementationSpecific", True, None).match == \
        {"path": {"type": "Exact", "value": "/ray"}}
    assert convert_path("/ray", "Prefix", False, None).status == "converted"
    assert convert_path("/ray", "Exact", False, None).match["path"]["type"] == "Exact"
    # Swapped capture groups, alternations, lookarounds: no Gateway API equivalent.
    for path, rewrite in (("/(ray|dash)/(.*)", "/$2"), ("/ray(/|$)(.*)", "/$1/x"),
                          ("/ray/(.*)/logs", "/$1")):
        assert convert_path(path, "ImplementationSpecific", True, rewrite).match is None


# ---------------------------------------------------------------------------------------------
# The seed guide's setup, per implementation


@pytest.mark.parametrize("impl", ["envoy-gateway", "nginx-gateway-fabric", "generic"])
def test_objects_validate_against_the_crds(impl: str) -> None:
    result = run_migrate(implementation=impl)
    version = {o["apiVersion"] for o in kinds(result.objects, "TCPRoute")}
    bundle = "v1.6.1-standard" if version == {"gateway.networking.k8s.io/v1"} else "v1.6.1-experimental"
    for obj in result.objects:
        schemas.validate(obj, bundle)


def test_dashboard_strip_redirect_and_ray_client() -> None:
    result = run_migrate(implementation="envoy-gateway")
    [route] = kinds(result.objects, "HTTPRoute")
    rules = route["spec"]["rules"]
    assert rules[0]["matches"] == [{"path": {"type": "Exact", "value": "/ray"}}]
    assert rules[0]["filters"][0]["requestRedirect"]["path"]["replaceFullPath"] == "/ray/"
    assert rules[1]["matches"][0]["path"] == {"type": "PathPrefix", "value": "/ray/"}
    assert rules[1]["filters"][0]["urlRewrite"]["path"]["replacePrefixMatch"] == "/"
    assert rules[1]["timeouts"] == {"request": "0s"}  # the log tail's WebSocket
    # Serve: no total timeout either (nginx's 7200 s read/send timeouts bound a pause, not a
    # response); the pause bound is the routes' BackendTrafficPolicy stream idle timeout.
    assert rules[2]["timeouts"] == {"request": "0s"}
    [btp] = kinds(result.objects, "BackendTrafficPolicy")
    assert btp["spec"]["timeout"] == {"http": {"streamIdleTimeout": "2h"}}
    assert btp["spec"]["targetRefs"][0]["name"] == route["metadata"]["name"]
    [tcp] = kinds(result.objects, "TCPRoute")
    assert tcp["apiVersion"] == "gateway.networking.k8s.io/v1"  # Envoy Gateway v1.9
    assert tcp["spec"]["rules"][0]["backendRefs"][0] == {
        "group": "", "kind": "Service", "name": "raycluster-kuberay-head-svc", "port": 10001}
    [gw] = kinds(result.objects, "Gateway")
    assert {(l["protocol"], l["port"]) for l in gw["spec"]["listeners"]} == {("HTTP", 80), ("TCP", 10001)}
    assert "requestBuffer" not in yaml.safe_dump_all(result.objects)
    assert not result.errors


def test_nginx_gateway_fabric_carries_the_configmap_values() -> None:
    result = run_migrate(implementation="nginx-gateway-fabric")
    [csp] = kinds(result.objects, "ClientSettingsPolicy")
    assert csp["spec"]["body"]["maxSize"] == "500m"  # from the controller ConfigMap
    [psp] = kinds(result.objects, "ProxySettingsPolicy")
    assert psp["spec"]["timeout"] == {"read": "7200s", "send": "7200s"}
    [route] = kinds(result.objects, "HTTPRoute")
    assert all("timeouts" not in r for r in route["spec"]["rules"])
    assert kinds(result.objects, "TCPRoute")[0]["apiVersion"].endswith("/v1alpha2")


def test_migrated_objects_lint_clean() -> None:
    result = run_migrate(implementation="envoy-gateway")
    text = SETUP + "".join("---\n" + yaml.safe_dump(o) for o in result.objects)
    findings = engine.run(ObjectSet(load_text(text, "all.yaml").objects)).findings
    ours = [f for f in findings if f.object.kind not in ("Ingress", "ConfigMap")]
    assert not ours, [(f.code, f.message) for f in ours]


# ---------------------------------------------------------------------------------------------
# What makes a Ray path worse is an error


def test_lost_ray_paths_ports_allowlists_and_auth_are_errors() -> None:
    text = SETUP.replace("/serve(/|$)(.*)", "/(serve|apps)/(.*)").replace(
        "nginx.ingress.kubernetes.io/rewrite-target: /$2",
        "nginx.ingress.kubernetes.io/rewrite-target: /$2\n"
        "    nginx.ingress.kubernetes.io/allowlist-source-range: 10.0.0.0/8\n"
        "    nginx.ingress.kubernetes.io/auth-url: https://auth.example.com/check").replace(
        '"10001": ray/raycluster-kuberay-head-svc:10001',
        '"10001": ray/raycluster-kuberay-head-svc:10001\n  "80": ray/raycluster-kuberay-head-svc:10001')
    result = run_migrate(text, implementation="nginx-gateway-fabric")
    errors = {(e.subject, e.status) for e in result.errors}
    assert ("path /(serve|apps)/(.*)", "dropped") in errors
    assert ("allowlist-source-range", "dropped") in errors
    assert ("nginx.ingress.kubernetes.io/auth-url", "dropped") in errors
    assert ("80", "dropped") in errors
    # On Envoy Gateway the allowlist is a SecurityPolicy, not an error.
    eg = run_migrate(text, implementation="envoy-gateway")
    assert ("allowlist-source-range", "dropped") not in {(e.subject, e.status) for e in eg.errors}
    [sp] = kinds(eg.objects, "SecurityPolicy")
    assert sp["spec"]["authorization"]["rules"][0]["principal"]["clientCIDRs"] == ["10.0.0.0/8"]
    schemas.validate(sp, "v1.6.1-standard")


def test_ssl_passthrough_becomes_a_tls_listener_and_tlsroute() -> None:
    """KubeRay's Ray Client guidance (ssl-passthrough + backend-protocol GRPC, its sample
    ingress-rayclient-tls.yaml) becomes a Passthrough TLS listener and a TLSRoute."""
    sample = Path(__file__).resolve().parents[1] / "data" / "threads" / \
        "kuberay-1051-client-tls-ssl-passthrough" / "ingress.yaml"
    result = migrate(ObjectSet(load_paths([str(sample)]).objects),
                     Options(implementation="envoy-gateway", gateway_class="eg",
                             all_ingresses=True))
    assert not result.errors
    [gw] = kinds(result.objects, "Gateway")
    [tls] = [l for l in gw["spec"]["listeners"] if l["protocol"] == "TLS"]
    assert (tls["port"], tls["hostname"], tls["tls"]) == (443, "localhost", {"mode": "Passthrough"})
    [route] = kinds(result.objects, "TLSRoute")
    assert route["spec"]["hostnames"] == ["localhost"]
    assert route["spec"]["parentRefs"][0]["sectionName"] == tls["name"]
    assert [(b["name"], b["port"]) for b in route["spec"]["rules"][0]["backendRefs"]] == \
        [("raycluster-tls-head-svc", 10001)]
    verdicts = {i.subject: i.status for i in result.items}
    assert verdicts["nginx.ingress.kubernetes.io/ssl-passthrough"] == "converted"
    assert verdicts["nginx.ingress.kubernetes.io/backend-protocol"] == "converted"
    for obj in result.objects:
        schemas.validate(obj, "v1.6.1-standard")


def test_report_formats() -> None:
    result = run_migrate(implementation="generic")
    data = json.loads(report_json(result))
    assert data["summary"]["errors"] == len(result.errors)
    subjects = {i["subject"] for i in data["items"]}
    assert {"tcp-services 10001", "path /ray(/|$)(.*)",
            "nginx.ingress.kubernetes.io/use-regex"} <= subjects
    item = next(i for i in data["items"] if i["subject"] == "path /ray(/|$)(.*)")
    assert item["file"] == "setup.yaml" and item["line"] > 1
    assert "ReplacePrefixMatch" in report_text(result)
    assert report_html(result).startswith("<!doctype html>")


# ---------------------------------------------------------------------------------------------
# The corpus and the command line


def test_corpus_ingress_nginx_examples_convert_without_error() -> None:
    files = sorted((CORPUS / "ingress-nginx").glob("examples-*.yaml")) + \
        sorted(p for p in (CORPUS / "kuberay").rglob("*.yaml") if "ingress" in p.name)
    if not files:
        pytest.skip("corpus absent")
    converted = 0
    for path in files:
        loaded = load_paths([str(path)])
        result = migrate(ObjectSet(loaded.objects),
                         Options(implementation="envoy-gateway", gateway_class="eg",
                                 all_ingresses=True))
        assert not result.errors, (path.name, [(e.subject, e.why) for e in result.errors])
        for obj in result.objects:
            schemas.validate(obj, "v1.6.1-standard")
        converted += len(kinds(result.objects, "HTTPRoute"))
    assert converted >= 5


def test_command_line(capsys, tmp_path: Path) -> None:
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP, encoding="utf-8")
    code, out, err = run(capsys, "migrate", str(setup), "--to", "gateway-api",
                         "--implementation", "envoy-gateway", "--gateway-class", "eg",
                         "--report", str(tmp_path / "r.json"), "--report-format", "json")
    assert code == 0, err
    assert {d["kind"] for d in yaml.safe_load_all(out)} >= {"Gateway", "HTTPRoute", "TCPRoute"}
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["errors"] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(SETUP.replace("/serve(/|$)(.*)", "/(serve|apps)/(.*)"), encoding="utf-8")
    code, out, err = run(capsys, "migrate", str(bad), "--gateway-class", "eg")
    assert code == 1 and "ERROR dropped" in err
    code, out, err = run(capsys, "migrate", str(setup))
    assert code == 2 and "--gateway-class is required" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [", encoding="utf-8")
    code, out, err = run(capsys, "migrate", str(broken), "--gateway-class", "eg")
    assert code == 2 and "broken.yaml" in err and "Traceback" not in err


def test_live_cluster_through_the_fake_api_server(capsys, fake_api) -> None:
    for obj in load_text(SETUP, "setup.yaml").objects:
        fake_api.add(dict(obj.raw), manager="kubectl")
    code, out, err = run(capsys, "migrate", "--kubeconfig", str(fake_api.kubeconfig_path),
                         "--implementation", "nginx-gateway-fabric", "--gateway-class", "nginx")
    assert code == 0, err
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert {d["kind"] for d in docs} >= {"Gateway", "HTTPRoute", "TCPRoute", "ClientSettingsPolicy"}
    [csp] = [d for d in docs if d["kind"] == "ClientSettingsPolicy"]
    assert csp["spec"]["body"]["maxSize"] == "500m"
    code, out, err = run(capsys, "migrate", "x.yaml", "--kubeconfig", "k", "--gateway-class", "eg")
    assert code == 2 and "not both" in err


def test_a_kubectl_snapshot_migrates_like_the_files(capsys, tmp_path: Path) -> None:
    """The snapshot form (`kubectl get ingress,svc,cm,deploy,raycluster -A -o yaml`: one v1
    List with server metadata and status) gives the same objects as the plain files."""
    items = []
    for i, doc in enumerate(d for d in yaml.safe_load_all(SETUP) if d):
        doc["metadata"].update({"uid": f"uid-{i}", "resourceVersion": str(100 + i),
                                "creationTimestamp": "2026-12-01T00:00:00Z"})
        items.append(doc)
    snapshot = tmp_path / "snapshot.yaml"
    snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP, encoding="utf-8")
    args = ["--to", "gateway-api", "--implementation", "envoy-gateway", "--gateway-class", "eg"]
    code, from_snapshot, err = run(capsys, "migrate", str(snapshot), *args)
    assert code == 0, err
    code, from_files, err = run(capsys, "migrate", str(setup), *args)
    assert code == 0, err
    assert from_snapshot == from_files and "TCPRoute" in from_snapshot
