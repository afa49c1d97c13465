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
    ("select: [a\n", ":2: invalid YAML"),
])
def test_config_errors_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    assert str(e.value).startswith(str(tmp_path / ".raygate.yaml"))
    assert message in str(e.value)


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
