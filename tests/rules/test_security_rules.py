"""The security rules' domain logic beyond the fixtures: validator semantics, version gates,
agreement with the real Kubernetes schema, ``explain --error`` matching, and robustness.

The fixtures (``test_catalog.py``) show each rule firing and not firing on realistic manifests;
these tests pin the facts the rules encode, so a refactor cannot quietly change what counts as
a valid ``proxy-body-size`` or which controller versions are vulnerable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygate import engine
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.rules import CATALOG
from raygate.rules.security import _annotation_values as values
from raygate.rules.security.annotation_over_risk_level import aliases_risk_checked
from raygate.rules.security.vulnerable_ingress_nginx import CVES
from raygate.sources.files import load_paths

FIXTURES = Path(__file__).parent / "fixtures"
SECURITY = [r for r in CATALOG if r.code in ("RG102", "RG103", "RG104", "RG105", "RG106", "RG107")]


@pytest.mark.parametrize("name,value", [
    ("proxy-body-size", "0"), ("proxy-body-size", "512k"), ("proxy-body-size", "8G"),
    ("proxy-body-size", "100 m"),  # SizeRegex removes spaces first
    ("proxy-read-timeout", "3600"), ("proxy-read-timeout", "-1"),
    ("use-regex", "True"), ("use-regex", "1"), ("use-regex", "F"),
    ("rewrite-target", "/$2"), ("rewrite-target", "$1"), ("rewrite-target", "/api/$1"),
    ("x-forwarded-prefix", "/ray prefix"),  # spaces removed for x-forwarded-prefix
    ("backend-protocol", "GRPC"), ("backend-protocol", "auto_http"),
    ("proxy-buffering", " off "),  # ValidateOptions trims
    ("allowlist-source-range", "10.0.0.0/8,192.168.0.1"),
    ("permanent-redirect", "https://ray.example.com/dashboard/?a=b&c=d"),
    ("proxy-body-size", ""),  # empty values are never validated
    ("some-future-annotation", "anything"),
])
def test_values_ingress_nginx_accepts(name: str, value: str) -> None:
    assert values.refusal(name, value) is None


@pytest.mark.parametrize("name,value,suggestion", [
    ("proxy-body-size", "100Mi", "100m"), ("proxy-body-size", "10MB", "10m"),
    ("proxy-body-size", "1.5g", "1536m"),
    ("proxy-body-size", "100m\n", None),  # Go's $ does not match before a trailing newline
    ("proxy-read-timeout", "3600s", "3600"), ("proxy-read-timeout", "5m", "300"),
    ("proxy-read-timeout", "1h", "3600"), ("proxy-read-timeout", " 60", "60"),
    ("use-regex", "yes", "true"), ("use-regex", "on", "true"),
    ("rewrite-target", "/$2?x=1", None), ("rewrite-target", "/ray /$1", None),  # no space removal
    ("app-root", "https://ray.example.com/", None),
    ("backend-protocol", "GRPCS2", None), ("proxy-buffering", "Off", None),
    ("permanent-redirect", "https://ray.example.com/$1", None),
    ("auth-realm", "Ray\r\nX-Injected: 1", None),  # CR/LF refused by every regex validator
])
def test_values_ingress_nginx_refuses(name: str, value: str, suggestion: str | None) -> None:
    refused = values.refusal(name, value)
    assert refused is not None
    if suggestion is not None or "\n" in value:
        assert refused.suggestion == suggestion


def test_snippets_may_span_lines() -> None:
    # ValidateNull: multi-line snippets are RG101's business, not an invalid value.
    assert values.refusal("configuration-snippet", "a;\nb;\n") is None


@pytest.mark.parametrize("version,checked", [
    ((1, 13, 7), False), ((1, 13, 8), True), ((1, 13, 9), True), ((1, 14, 3), False),
    ((1, 14, 4), True), ((1, 14, 5), True), ((1, 15, 0), True), ((1, 12, 3), False),
])
def test_alias_risk_check_versions(version: tuple[int, int, int], checked: bool) -> None:
    assert aliases_risk_checked(version) is checked


@pytest.mark.parametrize("version,expected", [
    ((1, 11, 4), {"CVE-2025-1974", "CVE-2026-24512", "CVE-2026-3288"}),
    ((1, 11, 5), {"CVE-2026-24512", "CVE-2026-3288"}),
    ((1, 12, 0), {"CVE-2025-1974", "CVE-2026-24512", "CVE-2026-3288"}),
    ((1, 12, 1), {"CVE-2026-24512", "CVE-2026-3288"}),
    ((1, 13, 7), {"CVE-2026-3288"}), ((1, 13, 8), set()), ((1, 13, 9), set()),
    ((1, 14, 2), {"CVE-2026-24512", "CVE-2026-3288"}), ((1, 14, 3), {"CVE-2026-3288"}),
    ((1, 14, 4), set()), ((1, 15, 0), set()), ((1, 15, 1), set()),
])
def test_cve_version_ranges(version: tuple[int, int, int], expected: set[str]) -> None:
    assert {cve for cve, test, _, _ in CVES if test(version)} == expected


def test_non_string_annotations_agree_with_the_real_schema() -> None:
    """RG103's "the API refuses it" claim, checked against the Kubernetes OpenAPI schema."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    loaded = load_paths([str(FIXTURES / "invalid-annotation-value.yaml")])
    objects = ObjectSet(loaded.objects)
    result = engine.run(objects, rules=[CATALOG.find("RG103")])
    decode_errors = {f.object.name for f in result.findings if "cannot unmarshal" in f.message}
    assert decode_errors == {"fires-unquoted-yaml-boolean", "fires-unquoted-yaml-number"}
    for obj in objects:
        raw = dict(obj.raw)
        try:
            kubernetes_validate.validate(raw, "1.31", strict=True)
            refused = False
        except kubernetes_validate.ValidationError as e:
            refused = "annotations" in str(e)
        assert refused is (obj.name in decode_errors), obj.name


@pytest.mark.parametrize("code,text", [
    ("RG102", 'Error from server (BadRequest): error when creating "ray.yaml": admission webhook '
              '"validate.nginx.ingress.kubernetes.io" denied the request: annotation group '
              "ExternalAuth contains risky annotation based on ingress configuration"),
    ("RG103", 'admission webhook "validate.nginx.ingress.kubernetes.io" denied the request: '
              "annotation nginx.ingress.kubernetes.io/x-forwarded-prefix contains invalid value"),
    ("RG103", "W0101 validators.go:1] validation error on ingress ray/dash: annotation "
              "proxy-read-timeout contains invalid value 3600s"),
    ("RG103", 'error: unable to decode "ray.yaml": json: cannot unmarshal bool into Go struct '
              "field ObjectMeta.metadata.annotations of type string"),
])
def test_real_error_text_finds_the_rule(code: str, text: str) -> None:
    assert CATALOG.find(code).matches_error(text)


# Anything can be the wrong type in a manifest; the rules must report, never crash.
_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (st.lists(inner, max_size=3)
                   | st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def _corrupt(good):
    """A strategy yielding ``good`` with any node (at any depth) possibly replaced by junk."""
    if isinstance(good, dict):
        intact = st.fixed_dictionaries({k: _corrupt(v) for k, v in good.items()})
    elif isinstance(good, list):
        intact = st.tuples(*[_corrupt(v) for v in good]).map(list)
    else:
        intact = st.just(good)
    return st.one_of(intact, intact, intact, _junk)


def _baseline() -> list[dict]:
    """Well-formed objects that make every security rule fire (see the test below)."""
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "i", "namespace": "ray", "annotations": {
             "nginx.ingress.kubernetes.io/proxy-body-size": "100Mi",
             "nginx.ingress.kubernetes.io/limit-rps": "ten",
             "nginx.ingress.kubernetes.io/auth-url": "https://a",
             "nginx.ingress.kubernetes.io/use-regex": True}},
         "spec": {"ingressClassName": "nginx",
                  "tls": [{"hosts": ["b"]}, "x"], "rules": [{"host": "a", "http": {"paths": [
             {"path": "/", "backend": {"service": {"name": "rc-head-svc",
                                                   "port": {"number": 8265}}}}]}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": "ray"},
         "spec": {"type": "LoadBalancer", "selector": {"ray.io/node-type": "head",
                                                       "ray.io/cluster": "rc"},
                  "ports": [{"port": 6379, "targetPort": "gcs-server"}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"},
         "data": {"6379": "ray/rc-head-svc:6379", "10001": "ray/rc-head-svc:client"}},
        {"apiVersion": "ray.io/v1", "kind": "RayCluster",
         "metadata": {"name": "rc", "namespace": "ray"},
         "spec": {"headGroupSpec": {
             "serviceType": "LoadBalancer", "enableIngress": True,
             "ingressOptions": {"tls": []},
             "template": {"spec": {"containers": [{
                 "ports": [{"name": "gcs", "containerPort": 6379},
                           {"name": "dashboard", "containerPort": 8265}],
                 "env": [{"name": "RAY_AUTH_MODE", "value": "disabled"}]}]}}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "c", "namespace": "ingress-nginx"},
         "spec": {"template": {"spec": {"containers": [
             {"image": "registry.k8s.io/ingress-nginx/controller:v1.11.0",
              "args": ["/nginx-ingress-controller", "--configmap=ingress-nginx/cfg",
                       "--tcp-services-configmap=ingress-nginx/tcp-services"]}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "cfg", "namespace": "ingress-nginx"},
         "data": {"annotations-risk-level": "Medium"}},
    ]


def _objects(raws: list[dict]) -> list[KubeObject]:
    return [KubeObject(raw, Origin("hyp.yaml", i)) for i, raw in enumerate(raws)]


def _keep_identity(raw: dict, good: dict) -> dict:
    # Keep apiVersion/kind so each object still reaches the rules that handle its kind.
    return {**raw, "apiVersion": good["apiVersion"], "kind": good["kind"]} \
        if isinstance(raw, dict) else dict(good, metadata=raw)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.tuples(*[_corrupt(o) for o in _baseline()]))
def test_security_rules_never_crash(raws) -> None:
    objs = _objects([_keep_identity(r, g) for r, g in zip(raws, _baseline())])
    result = engine.run(ObjectSet(objs), rules=SECURITY)
    assert not result.not_checked, result.not_checked
    for f in result.findings:
        assert f.fix.endswith("."), f.fix
        assert f.message


def test_fuzz_baseline_reaches_every_rule() -> None:
    """The well-formed starting point of the fuzz test does trigger the rules, so the fuzzing
    exercises real code paths rather than bailing out early."""
    objs = _objects(_baseline())
    result = engine.run(ObjectSet(objs), rules=SECURITY)
    fired = {(f.rule.code, f.object.kind) for f in result.findings}
    assert {("RG102", "Ingress"), ("RG103", "Ingress"), ("RG104", "Ingress"), ("RG104", "Service"),
            ("RG104", "ConfigMap"), ("RG104", "RayCluster"), ("RG105", "Service"),
            ("RG105", "ConfigMap"), ("RG105", "RayCluster"), ("RG106", "Ingress"),
            ("RG106", "RayCluster"), ("RG107", "Deployment")} <= fired


def test_security_rules_are_all_registered() -> None:
    assert [r.code for r in SECURITY] == ["RG102", "RG103", "RG104", "RG105", "RG106", "RG107"]
