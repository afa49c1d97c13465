"""Tests written to kill the mutants `make mutation` found alive (docs/testing.md): the
suppression scopes of ``.raygate.yaml``, SARIF locations, the tcp-services parser and the
exposure model. Each asserts behaviour a user depends on, not an implementation detail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raygate import config as config_mod
from raygate.backends.ingress_nginx import parse_tcp_entry
from raygate.errors import ConfigError
from raygate.findings import Layer, Severity
from raygate.model import exposure as ex
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.rules import CATALOG


# --------------------------------------------------------------------------- config

def _rule(code: str = "RG301"):
    rule = CATALOG.find(code)
    assert rule is not None
    return rule


@pytest.mark.parametrize("scope, target, expected", [
    ({}, ("Service", "legacy", "old", "a/b.yaml"), True),
    ({"kind": "Service"}, ("Service", "legacy", "old", "f"), True),
    ({"kind": "Service"}, ("Ingress", "legacy", "old", "f"), False),
    ({"kind": "service"}, ("Service", "legacy", "old", "f"), False),  # kinds are exact
    ({"namespace": "leg*"}, ("Service", "legacy", "old", "f"), True),
    ({"namespace": "leg*"}, ("Service", "prod", "old", "f"), False),
    ({"name": "old-*"}, ("Service", "x", "old-gateway", "f"), True),
    ({"name": "old-*"}, ("Service", "x", "new-gateway", "f"), False),
    ({"file": "deploy/*.yaml"}, ("Service", "x", "y", "deploy/a.yaml"), True),
    ({"file": "a.yaml"}, ("Service", "x", "y", "/abs/deploy/a.yaml"), True),  # a path suffix
    ({"file": "b.yaml"}, ("Service", "x", "y", "/abs/deploy/a.yaml"), False),
    ({"kind": "Service", "namespace": "legacy", "name": "old"}, ("Service", "legacy", "other", "f"), False),
    ({"kind": "Service", "namespace": "legacy", "name": "old"}, ("Service", "legacy", "old", "f"), True),
])
def test_suppression_scopes(scope: dict, target: tuple, expected: bool) -> None:
    s = config_mod.Suppression(("RG301",), **scope)
    assert config_mod.suppressed(s, _rule("RG301"), *target) is expected


def test_suppression_names_the_rule_in_any_form() -> None:
    rule = _rule("RG301")
    for form in ("RG301", "RG3", rule.name, rule.layer.value, "all"):
        assert config_mod.suppressed(config_mod.Suppression((form,)), rule, "Service", "n", "o", "f"), form
    assert not config_mod.suppressed(config_mod.Suppression(("RG1",)), rule, "Service", "n", "o", "f")


def _load(tmp_path: Path, text: str) -> config_mod.Config:
    path = tmp_path / ".raygate.yaml"
    path.write_text(text)
    return config_mod.load(path)


def test_config_loads_every_key(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "select: security, RG2\nignore: [RG301]\nfail-on: warning\n"
                          "suppress:\n- rules: 'RG301, RG302'\n  kind: Service\n  namespace: legacy\n"
                          "  name: old\n  file: x.yaml\n  reason: gone\n- rules: [RG1]\n")
    assert cfg.path == str(tmp_path / ".raygate.yaml")
    assert cfg.select == ("security", "RG2") and cfg.ignore == ("RG301",)
    assert cfg.fail_on == "warning"
    assert cfg.suppress[0] == config_mod.Suppression(("RG301", "RG302"), "Service", "legacy", "old",
                                                     "x.yaml", "gone")
    assert cfg.suppress[1] == config_mod.Suppression(("RG1",))
    assert _load(tmp_path, "") == config_mod.Config(path=str(tmp_path / ".raygate.yaml"))


@pytest.mark.parametrize("text, message", [
    ("- a\n", "must be a mapping with keys ['fail-on', 'ignore', 'select', 'suppress']"),
    ("selec: [a]\n", "unknown key(s) ['selec']; allowed: ['fail-on', 'ignore', 'select', 'suppress']"),
    ("fail-on: sometimes\n", "fail-on must be one of error, warning, info, never, not 'sometimes'"),
    ("select: [1]\n", "select must be a list of rule codes, names or layers"),
    ("ignore: {a: 1}\n", "ignore must be a list of rule codes, names or layers"),
    ("suppress: {rules: [a]}\n", "suppress must be a list (one '- rules: [...]' entry per suppression)"),
    ("suppress: [{kind: Service}]\n", "suppress[0] needs at least 'rules'"),
    ("suppress: [x]\n", "suppress[0] needs at least 'rules'"),
    ("suppress: [{rules: []}]\n", "suppress[0]: rules must be a non-empty list"),
    ("suppress: [{rules: [' ']}]\n", "suppress[0]: rules must be a non-empty list"),
    ("suppress: [{rules: [1]}]\n", "suppress[0]: rules must be a non-empty list"),
    ("suppress: [{rules: ', '}]\n", "suppress[0]: rules must be a non-empty list"),
    ("suppress: [{rules: [a], why: x}]\n", "suppress[0]: unknown key(s) ['why']"),
    ("suppress: [{rules: [a]}, {rules: [a], name: 3}]\n",
     "suppress[1]: name must be a string (a glob for namespace/name/file), not 3"),
    ("select: [a\n", ".raygate.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>'"),
    ("suppress: [{rules: [a], kind: 3}]\n", "suppress[0]: kind must be a string"),
    ("suppress: [{rules: [a], namespace: [x]}]\n", "suppress[0]: namespace must be a string"),
    ("suppress: [{rules: [a], file: 1.5}]\n", "suppress[0]: file must be a string"),
])
def test_config_errors_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    assert str(e.value).startswith(str(tmp_path / ".raygate.yaml"))
    assert message in str(e.value)
    if "invalid YAML" in message:  # the parser's one-line problem, not its multi-line dump
        assert str(e.value).endswith(message)


def test_config_fail_on_accepts_every_level(tmp_path: Path) -> None:
    for level in config_mod.FAIL_ON:
        assert _load(tmp_path, f"fail-on: {level}\n").fail_on == level


def test_config_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        config_mod.load(tmp_path / "missing.yaml")
    assert str(e.value) == f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory"


def test_config_find_is_the_nearest_above_the_first_input(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / config_mod.FILENAME).write_text("")
    (tmp_path / "a" / config_mod.FILENAME).write_text("")
    manifest = tmp_path / "a" / "b" / "x.yaml"
    manifest.write_text("")
    assert config_mod.find([str(manifest)]) == (tmp_path / "a" / config_mod.FILENAME).resolve()
    assert config_mod.find(["-", str(tmp_path / "a" / "b")]) == (tmp_path / "a" / config_mod.FILENAME).resolve()
    assert config_mod.find(["-"], start=tmp_path) == (tmp_path / config_mod.FILENAME).resolve()
    assert config_mod.find([], start=tmp_path / "a") == (tmp_path / "a" / config_mod.FILENAME).resolve()


# --------------------------------------------------------------------------- tcp-services parser

@pytest.mark.parametrize("key, value, expected", [
    ("10001", "ray/head:10001", (10001, "ray", "head", "10001", False, False, None)),
    ("9000", "ray/head:client:PROXY", (9000, "ray", "head", "client", True, False, None)),
    ("9000", "ray/head:9000:proxy:PROXY", (9000, "ray", "head", "9000", True, True, None)),
    ("9000", "ray/head:9000::PROXY", (9000, "ray", "head", "9000", False, True, None)),
    ("9000", "ray/head:9000:TCP", (9000, "ray", "head", "9000", False, False, None)),
    ("+9000", "ray/head:9000", (9000, "ray", "head", "9000", False, False, None)),
    (" 9000", "ray/head:9000", (None, None, None, None, False, False,
                                 '" 9000" is not a valid TCP port number')),
    ("10_001", "ray/head:1", (None, None, None, None, False, False,
                              '"10_001" is not a valid TCP port number')),
    ("9000", "ray/head", (9000, None, None, None, False, False,
                          'Invalid Service reference "ray/head" for TCP port 9000')),
    ("9000", "head:9000", (9000, None, None, "9000", False, False,
                           "invalid format (namespace/name) found in 'head'")),
    ("9000", "a/b/c:9000", (9000, None, None, "9000", False, False,
                            "invalid format (namespace/name) found in 'a/b/c'")),
    ("9000", "/head:9000", (9000, None, None, "9000", False, False,
                            "invalid format (namespace/name) found in '/head'")),
    ("9000", "ray/:9000", (9000, None, None, "9000", False, False,
                           "invalid format (namespace/name) found in 'ray/'")),
])
def test_tcp_entry_is_parsed_like_the_controller(key: str, value: str, expected: tuple) -> None:
    e = parse_tcp_entry(key, value)
    assert (e.external_port, e.namespace, e.service, e.port, e.proxy_decode, e.proxy_encode,
            e.error) == expected
    assert (e.key, e.value) == (key, value)
    assert e.field == ("data", key)


def test_tcp_entry_names_the_protocol() -> None:
    assert parse_tcp_entry("x", "a/b:1", "UDP").error == '"x" is not a valid UDP port number'
    assert parse_tcp_entry(53, "a", "UDP").error == 'Invalid Service reference "a" for UDP port 53'
    assert parse_tcp_entry(53, "kube-system/dns:53").external_port == 53


# --------------------------------------------------------------------------- SARIF

def _result(*findings, problems=()):
    from raygate.findings import Result
    rules = sorted({f.rule.code: f.rule for f in findings}.values(), key=lambda r: r.code)
    return Result(list(findings), rules, len(findings), [], list(problems))


def _finding(code: str, file: str, line: int, field: str = "spec", severity=None):
    from raygate.findings import Finding, ObjectRef
    rule = _rule(code)
    return Finding(rule, ObjectRef("v1", "Service", "ray", "head"), file, line, field,
                   "the message", "the fix", severity or rule.severity)


def _sarif(result, root=None) -> dict:
    from raygate.report import sarif
    return json.loads(sarif.format(result, root=root) if root else sarif.format(result))


def test_sarif_locations_are_relative_to_srcroot() -> None:
    doc = _sarif(_result(_finding("RG301", "deploy/./gw.yaml", 0),
                         _finding("RG104", "/repo/deploy/ing.yaml", 7),
                         _finding("RG104", "/elsewhere/x.yaml", 3),
                         _finding("RG301", "-", 2), _finding("RG301", "cluster:kind", 1)), root="/repo")
    locs = [r["locations"][0]["physicalLocation"] for r in doc["runs"][0]["results"]]
    assert locs[0] == {"artifactLocation": {"uri": "deploy/gw.yaml", "uriBaseId": "%SRCROOT%"},
                       "region": {"startLine": 1}}  # line 0 (unknown) is line 1
    assert locs[1] == {"artifactLocation": {"uri": "deploy/ing.yaml", "uriBaseId": "%SRCROOT%"},
                       "region": {"startLine": 7}}
    assert locs[2]["artifactLocation"] == {"uri": "file:///elsewhere/x.yaml"}
    assert locs[3]["artifactLocation"] == {"uri": "stdin"}
    assert locs[4]["artifactLocation"] == {"uri": "cluster:kind"}
    assert doc["runs"][0]["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///repo/"}}
    assert "originalUriBaseIds" not in _sarif(_result(_finding("RG301", "a.yaml", 1)))["runs"][0]


def test_sarif_results_rules_and_fingerprints() -> None:
    a = _finding("RG301", "a.yaml", 4, field="spec.ports[0]")
    b = _finding("RG104", "a.yaml", 9, severity=Severity.WARNING)
    c = _finding("RG301", "a.yaml", 4, field="spec.ports[1]")
    doc = _sarif(_result(a, b, c))
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == sorted(ids) == ["RG104", "RG301"]
    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("RG301", 1, {"error": "error", "warning": "warning", "info": "note"}[a.severity.value]),
        ("RG104", 0, "warning"), ("RG301", 1, results[0]["level"])]
    assert results[0]["message"]["text"] == "Service/ray/head: the message. Fix: the fix"
    prints = [r["partialFingerprints"]["raygateFinding/v1"] for r in results]
    assert len(set(prints)) == 3 and all(len(p) == 32 for p in prints)
    assert _sarif(_result(a))["runs"][0]["results"][0]["partialFingerprints"] == results[0]["partialFingerprints"]
    assert results[0]["locations"][0]["logicalLocations"][0] == {
        "name": "Service/ray/head", "kind": "resource",
        "fullyQualifiedName": "Service/ray/head#spec.ports[0]"}
    assert results[0]["properties"]["field"] == "spec.ports[0]"
    rule = run["tool"]["driver"]["rules"][1]
    r301 = _rule("RG301")
    assert rule["name"] == "".join(p.capitalize() for p in r301.name.split("-"))
    assert rule["helpUri"].endswith(f"#rg301-{r301.name}")
    assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]


def test_sarif_unreadable_inputs_fail_the_invocation() -> None:
    from raygate.sources import InputProblem
    doc = _sarif(_result(problems=[InputProblem("bad.yaml", 3, "invalid YAML"),
                                   InputProblem("gone.yaml", None, "no such file")]))
    inv = doc["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    notes = inv["toolExecutionNotifications"]
    assert notes[0] == {"level": "error", "message": {"text": "invalid YAML"}, "locations": [
        {"physicalLocation": {"artifactLocation": {"uri": "bad.yaml", "uriBaseId": "%SRCROOT%"},
                              "region": {"startLine": 3}}}]}
    assert "region" not in notes[1]["locations"][0]["physicalLocation"]


# --------------------------------------------------------------------------- exposure model

def _exposure_objects() -> ObjectSet:
    rc = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "rc", "namespace": "ray"},
          "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "ports": [
              {"name": "dashboard", "containerPort": 8265}, {"name": "client", "containerPort": 10001},
              {"name": "gcs-server", "containerPort": 6379}, {"name": "serve", "containerPort": 8000}]}]}}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "rc-head-svc", "namespace": "ray"},
           "spec": {"ports": [{"name": "dashboard", "port": 8265}, {"name": "client", "port": 10001},
                              {"name": "http", "port": 8000, "targetPort": "serve"},
                              {"port": 9000, "targetPort": 9000},
                              {"name": "custom", "port": 7000, "targetPort": 6379}]}}
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "ray"},
           "spec": {"ingressClassName": "nginx", "defaultBackend": {"service": {"name": "rc-head-svc", "port": {"number": 10001}}},
                    "rules": [{"host": "a.example", "http": {"paths": [
                        {"path": "/ray", "pathType": "Prefix", "backend": {"service": {"name": "rc-head-svc", "port": {"number": 8265}}}},
                        {"path": "/serve", "pathType": "Prefix", "backend": {"service": {"name": "rc-head-svc", "port": {"name": "http"}}}},
                        {"path": "/x", "pathType": "Prefix", "backend": {"resource": {"kind": "Bucket", "name": "b"}}}]}}]}}
    tcp = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"},
           "data": {"10001": "ray/rc-head-svc:10001", "7000": "ray/rc-head-svc:7000", "9001": "ray/rc-head-svc:9000", "x": "bad",
                    "6000": "other/svc:6379", "6001": "other/svc:client", "6002": "nons:1"}}
    ctl = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
           "spec": {"template": {"spec": {"containers": [{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                                                          "args": ["/nginx-ingress-controller", "--tcp-services-configmap=ingress-nginx/tcp-services"]}]}}}}
    np_ = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np", "namespace": "ray"},
           "spec": {"type": "NodePort", "ports": [{"port": 8265, "nodePort": 30265}, "junk"]}}
    lb = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": "ray"},
          "spec": {"type": "LoadBalancer", "ports": [{"port": 10001}, {"name": "noport"}]}}
    eip = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "eip", "namespace": "ray"},
           "spec": {"externalIPs": ["1.2.3.4"], "ports": [{"port": 6379}]}}
    cip = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cip", "namespace": "ray"},
           "spec": {"ports": [{"port": 8265}]}}
    gw = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "ray"},
          "spec": {"listeners": [{"name": "other", "port": 1}, {"name": "ray-client", "port": 10001}]}}
    hr = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "hr", "namespace": "ray"},
          "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["", "h.example"], "rules": [
              {"matches": [{"path": {"type": "PathPrefix", "value": "/ray"}}], "backendRefs": [
                  {"name": "rc-head-svc", "port": 8265}, {"kind": "Other", "name": "x"},
                  {"group": "x.io", "name": "y"}, {"name": ""}, "junk"]},
              {"backendRefs": [{"name": "rc-head-svc", "port": True, "namespace": ""}]},
              {"matches": [{"headers": []}], "backendRefs": [{"name": "svc", "namespace": "other", "port": 6379}]},
              {"matches": [{"path": {"type": "RegularExpression", "value": "/r.*"}}], "backendRefs": [{"name": "rc-head-svc", "port": 10001}]},
              {"matches": [{"path": {"type": "Exact"}}], "backendRefs": [{"name": "rc-head-svc", "port": 8000}]},
              "junk"]}}
    hr_unattached = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "loose", "namespace": "ray"},
                     "spec": {"parentRefs": [], "rules": [{"backendRefs": [{"name": "rc-head-svc", "port": 8265}]}]}}
    hr_other = {"apiVersion": "example.com/v1", "kind": "HTTPRoute", "metadata": {"name": "foreign", "namespace": "ray"},
                "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "rc-head-svc", "port": 8265}]}]}}
    tr1 = {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute", "metadata": {"name": "tr1", "namespace": "ray"},
           "spec": {"parentRefs": [{"kind": "Service", "name": "x", "port": 5}, {"name": "gw", "sectionName": "ray-client"}],
                    "rules": [{"backendRefs": [{"name": "rc-head-svc", "port": 10001}]}]}}
    tr2 = {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute", "metadata": {"name": "tr2", "namespace": "ray"},
           "spec": {"parentRefs": [{"name": "gw", "port": 7777}], "rules": [{"backendRefs": [{"name": "rc-head-svc", "port": 6379}]}]}}
    tr3 = {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute", "metadata": {"name": "tr3", "namespace": "ray"},
           "spec": {"parentRefs": [{"name": "gw", "sectionName": "missing"}, {"name": "nogw", "namespace": "elsewhere", "sectionName": "ray-client"}],
                    "rules": [{"backendRefs": [{"name": "rc-head-svc", "port": 10001}]}]}}
    all_ = [rc, svc, ing, tcp, ctl, np_, lb, eip, cip, gw, hr, hr_unattached, hr_other, tr1, tr2, tr3]
    return ObjectSet([KubeObject(o, Origin("t.yaml", 0, 1)) for o in all_])

def _rows(objects: ObjectSet) -> list[tuple]:
    return [(e.via.kind, e.via.name, e.channel, e.namespace, e.service, e.port, e.ray_port,
             e.ray.name if e.ray else None, e.service_obj.name if e.service_obj else None,
             e.external_port, e.path, e.host) for e in ex.exposures(objects)]



def test_every_way_in_is_an_exposure_with_the_ray_port_it_reaches() -> None:
    objects = _exposure_objects()
    R = ("rc", "rc-head-svc")  # the RayCluster and its head Service object
    assert _rows(objects) == [
        # Ingress backends: by port number (Service port name), by port name (targetPort name),
        # and the default backend (path "/", no host); a resource backend is not a Service.
        ("Ingress", "web", "http", "ray", "rc-head-svc", "8265", "dashboard", *R, None, "/ray", "a.example"),
        ("Ingress", "web", "http", "ray", "rc-head-svc", "http", "serve", *R, None, "/serve", "a.example"),
        ("Ingress", "web", "http", "ray", "rc-head-svc", "10001", "client", *R, None, "/", None),
        # tcp-services: broken entries skipped; an unnamed port is unknown; a port whose
        # targetPort is the head's GCS port is GCS; without the Service, well-known numbers
        # and port names.
        ("ConfigMap", "tcp-services", "tcp", "ray", "rc-head-svc", "10001", "client", *R, 10001, None, None),
        ("ConfigMap", "tcp-services", "tcp", "ray", "rc-head-svc", "7000", "gcs-server", *R, 7000, None, None),
        ("ConfigMap", "tcp-services", "tcp", "ray", "rc-head-svc", "9000", None, *R, 9001, None, None),
        ("ConfigMap", "tcp-services", "tcp", "other", "svc", "6379", "gcs-server", None, None, 6000, None, None),
        ("ConfigMap", "tcp-services", "tcp", "other", "svc", "client", "client", None, None, 6001, None, None),
        # Services reachable from outside (NodePort: the node port; LoadBalancer: the port;
        # externalIPs), not a ClusterIP one.
        ("Service", "np", "service", "ray", "np", "8265", "dashboard", None, "np", 30265, None, None),
        ("Service", "lb", "service", "ray", "lb", "10001", "client", None, "lb", 10001, None, None),
        ("Service", "lb", "service", "ray", "lb", None, None, None, "lb", None, None, None),
        ("Service", "eip", "service", "ray", "eip", "6379", "gcs-server", None, "eip", 6379, None, None),
        # HTTPRoute: first non-empty hostname; PathPrefix/Exact value, "/" without matches or
        # path, None for a regex; non-Service refs, empty names and bool ports skipped/None.
        ("HTTPRoute", "hr", "http", "ray", "rc-head-svc", "8265", "dashboard", *R, None, "/ray", "h.example"),
        ("HTTPRoute", "hr", "http", "ray", "rc-head-svc", None, None, *R, None, "/", "h.example"),
        ("HTTPRoute", "hr", "http", "other", "svc", "6379", "gcs-server", None, None, None, "/", "h.example"),
        ("HTTPRoute", "hr", "http", "ray", "rc-head-svc", "10001", "client", *R, None, None, "h.example"),
        ("HTTPRoute", "hr", "http", "ray", "rc-head-svc", "8000", "serve", *R, None, "/", "h.example"),
        # TCPRoute: the listener port via sectionName, an explicit parentRef port, or unknown.
        ("TCPRoute", "tr1", "tcp", "ray", "rc-head-svc", "10001", "client", *R, 10001, None, None),
        ("TCPRoute", "tr2", "tcp", "ray", "rc-head-svc", "6379", None, *R, 7777, None, None),
        ("TCPRoute", "tr3", "tcp", "ray", "rc-head-svc", "10001", "client", *R, None, None, None),
    ]
    fields = [e.field for e in ex.exposures(objects)]
    assert fields[0] == ("spec", "rules", 0, "http", "paths", 0, "backend")
    assert fields[3] == ("data", "10001")
    assert fields[8] == ("spec", "ports", 0)
    assert fields[12] == ("spec", "rules", 0, "backendRefs", 0)
    assert fields[13] == ("spec", "rules", 1, "backendRefs", 0)
    assert fields[-3] == ("spec", "rules", 0, "backendRefs", 0)
    assert ex.exposures(objects)[0].target == "ray/rc-head-svc:8265"
    # Only what reaches a Ray head: the RayCluster's Service for certain, and the NodePort/LB
    # Services publishing Ray's port numbers as possible heads (model/heads.py); not the
    # externalIPs one on another port, nor other/svc.
    ray = [(e.via.name, e.channel, e.head.confidence if e.head else None)
           for e in ex.ray_exposures(objects)]
    certain = "certain"
    assert ray == [("web", "http", certain)] * 3 + [("tcp-services", "tcp", certain)] * 3 \
        + [("np", "service", "possible")] + [("lb", "service", "possible")] * 2 \
        + [("hr", "http", certain)] * 4 \
        + [("tr1", "tcp", certain), ("tr2", "tcp", certain), ("tr3", "tcp", certain)]


def test_a_head_service_name_counts_without_the_raycluster() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"},
          "data": {"10001": "ray/x-head-svc:10001", "10002": "ray/x-svc:10001"}}
    ctl = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "c", "namespace": "ingress-nginx"},
           "spec": {"template": {"spec": {"containers": [{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                                                          "args": ["--tcp-services-configmap=ingress-nginx/tcp-services"]}]}}}}
    objects = ObjectSet([KubeObject(o, Origin("t.yaml", 0, 1)) for o in (cm, ctl)])
    assert [e.service for e in ex.ray_exposures(objects)] == ["x-head-svc"]


def test_sarif_rule_descriptor_and_driver_are_complete() -> None:
    from raygate import __version__
    from raygate.findings import Finding, ObjectRef, Result
    r = _rule("RG301")
    f = Finding(r, ObjectRef("v1", "Service", "", "s"), "", 3, "spec", "m", "x", r.severity,
                assumption="assuming v1.15.1 defaults")
    orphan = _finding("RG104", "a.yaml", 1)
    doc = _sarif(Result([f, orphan], [r], 1, [], []), root="/repo/")
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["informationUri"]) == (
        "raygate", __version__, "https://github.com/raygate/raygate")
    assert driver["rules"] == [{
        "id": "RG301", "name": "".join(p.capitalize() for p in r.name.split("-")),
        "shortDescription": {"text": r.title}, "fullDescription": {"text": r.rationale},
        "help": {"text": f"{r.rationale}\n\nFix: {r.fix}", "markdown": f"{r.rationale}\n\n**Fix:** {r.fix}"},
        "helpUri": f"https://github.com/raygate/raygate/blob/main/docs/rules.md#rg301-{r.name}",
        "defaultConfiguration": {"level": {"error": "error", "warning": "warning", "info": "note"}[r.severity.value]},
        "properties": {"tags": [r.layer.value, r.name], "layer": r.layer.value}}]
    assert run["columnKind"] == "utf16CodeUnits"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///repo/"}}
    results = run["results"]
    assert results[0]["properties"] == {"field": "spec", "layer": r.layer.value,
                                        "assumption": "assuming v1.15.1 defaults"}
    assert "assumption" not in results[1]["properties"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "stdin"}
    assert results[1]["ruleIndex"] == 0  # a rule missing from the table points at the first


def test_sarif_problem_locations_use_the_root() -> None:
    from raygate.sources import InputProblem
    doc = _sarif(_result(problems=[InputProblem("/repo/deploy/bad.yaml", 3, "invalid YAML")]),
                 root="/repo")
    loc = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "deploy/bad.yaml", "uriBaseId": "%SRCROOT%"}


def _route_objects(*objs: dict) -> ObjectSet:
    return ObjectSet([KubeObject(o, Origin("t.yaml", 0, 1)) for o in objs])


def _tcproute(name: str, parents: list, port: int = 10001) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
            "metadata": {"name": name, "namespace": "ray"},
            "spec": {"parentRefs": parents, "rules": [{"backendRefs": [{"name": "rc-head-svc", "port": port}]}]}}


def test_route_paths_and_listener_ports_in_detail() -> None:
    gw = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "ray"},
          "spec": {"listeners": [{"name": "ray-client", "port": 10001}, {"name": "flag", "port": True}]}}
    gw2 = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw2", "namespace": "gwns"},
           "spec": {"listeners": [{"name": "l", "port": 4444}]}}
    hr = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "hr", "namespace": "ray"},
          "spec": {"parentRefs": [{"name": "gw"}], "rules": [
              {"matches": [], "backendRefs": [{"name": "a", "port": 1}]},
              {"matches": ["junk", {"path": {"value": "/v"}}], "backendRefs": [{"name": "a", "port": 1}]},
              {"matches": [{"path": {"type": "Exact", "value": 5}}], "backendRefs": [{"name": "a", "port": 1}]},
              {"matches": [{"path": "junk"}, {"path": {"type": "Exact", "value": "/e"}}],
               "backendRefs": [{"name": "a", "port": 1}]}]}}
    routes = [
        _tcproute("other-group", [{"group": "x.io", "kind": "Gateway", "name": "gw", "port": 5}]),
        _tcproute("first-unusable", [{"name": "gw"}, {"name": "gw", "sectionName": "ray-client"}]),
        _tcproute("cross-namespace", [{"name": "gw2", "namespace": "gwns", "sectionName": "l"}]),
        _tcproute("empty-namespace", [{"name": "gw", "namespace": "", "sectionName": "ray-client"}]),
        _tcproute("bool-port", [{"name": "gw", "sectionName": "flag"}]),
        _tcproute("bool-parent-port", [{"name": "gw", "port": True, "sectionName": "ray-client"}]),
    ]
    found = ex.exposures(_route_objects(gw, gw2, hr, *routes))
    assert [e.path for e in found if e.via.kind == "HTTPRoute"] == ["/", "/v", None, "/e"]
    assert {e.via.name: e.external_port for e in found if e.via.kind == "TCPRoute"} == {
        "other-group": None, "first-unusable": 10001, "cross-namespace": 4444,
        "empty-namespace": 10001, "bool-port": None, "bool-parent-port": 10001}


def test_ray_port_names_from_the_raycluster_and_target_ports() -> None:
    rc = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "rc", "namespace": "ray"},
          "spec": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "ports": [
              {"name": "custom-app", "containerPort": 7777}, {"name": "client", "containerPort": 10001}]}]}}}}}
    # The head Service itself is a LoadBalancer here: a "service" exposure of the RayCluster.
    head = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "rc-head-svc", "namespace": "ray"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 7777}, {"port": 7001, "targetPort": 8265}]}}
    plain = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ray"},
             "spec": {"type": "NodePort", "ports": [{"port": 7001, "targetPort": 8265, "nodePort": 31000}]}}
    foreign = {"apiVersion": "example.com/v1", "kind": "Ingress", "metadata": {"name": "a-foreign", "namespace": "ray"},
               "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {
                   "name": "rc-head-svc", "port": {"number": 7777}}}}]}}]}}
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "b-ing", "namespace": "ray"},
           "spec": {"backend": {"service": {"name": "rc-head-svc", "port": {"number": 7777}}}}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"},
          "data": {"7777": "ray/rc-head-svc:7777"}}
    ctl = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "c", "namespace": "ingress-nginx"},
           "spec": {"template": {"spec": {"containers": [{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                                                          "args": ["--tcp-services-configmap=ingress-nginx/tcp-services"]}]}}}}
    objects = _route_objects(rc, head, plain, foreign, ing, cm, ctl,
                             _tcproute("t1", [{"name": "g", "port": 1}], 7777),
                             _tcproute("t2", [{"name": "g", "port": 1}], 7001))
    found = ex.exposures(objects)
    names = {(e.via.kind, e.via.name, e.port): e.ray_port for e in found}
    # The head's own port name (not a well-known one), by every way in.
    assert names[("TCPRoute", "t1", "7777")] == "custom-app"
    assert names[("ConfigMap", "tcp-services", "7777")] == "custom-app"
    assert names[("Ingress", "b-ing", "7777")] == "custom-app"
    assert names[("Service", "rc-head-svc", "7777")] == "custom-app"
    assert names[("TCPRoute", "t2", "7001")] == "dashboard"   # the targetPort is the head's 8265
    assert names[("Service", "web", "7001")] == "dashboard"   # no RayCluster: the well-known targetPort
    assert not [e for e in found if e.via.name == "a-foreign"]  # not a networking.k8s.io Ingress
    legacy = next(e for e in found if e.via.name == "b-ing")
    assert legacy.field[:2] == ("spec", "defaultBackend") and legacy.path == "/"
    lb = next(e for e in found if e.via.name == "rc-head-svc")
    assert lb.ray is not None and lb.ray.name == "rc" and lb.external_port == 7777
    # Without the Service in the inputs: the RayCluster still names the port.
    alone = ex.exposures(_route_objects(rc, cm, ctl))
    assert [(e.service, e.ray_port) for e in alone] == [("rc-head-svc", "custom-app")]


def test_a_bad_entry_does_not_hide_the_good_ones_after_it() -> None:
    """Malformed items are skipped one by one: what follows them is still an exposure."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np", "namespace": "ray"},
           "spec": {"type": "NodePort", "ports": ["junk", {"port": 8265, "nodePort": 30265}]}}
    hr = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "hr", "namespace": "ray"},
          "spec": {"parentRefs": [{"name": "gw"}], "rules": [
              "junk",
              {"backendRefs": ["junk", {"kind": "Other", "name": "x"}, {"name": ""}, {"name": "a", "port": 1}]}]}}
    found = ex.exposures(_route_objects(svc, hr))
    assert [(e.via.name, e.service, e.external_port) for e in found] == [("np", "np", 30265), ("hr", "a", None)]
    assert found[1].field == ("spec", "rules", 1, "backendRefs", 3)
