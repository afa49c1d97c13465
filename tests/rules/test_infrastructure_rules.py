"""What the fixture harness cannot see for the infrastructure rules (RG301-RG308).

The harness checks fires/dont-fire and quoted messages. Here: that fixes name the precise
replacement (the right Service, the right class, the right replica count), that findings point
at the most precise field and carry the right severity and assumption, that the quoted error
strings really are what the real system prints (kubernetes-validate's real schemas), that
``raygate explain --error`` would find the rule from pasted output, and that odd input never
crashes a rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygate import engine
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.rules import CATALOG, Rule
from raygate.sources.files import load_paths, load_text

FIXTURES = Path(__file__).parent / "fixtures"
MINE = [r for r in CATALOG if r.code in {f"RG30{i}" for i in range(1, 9)}]


def rule(code: str) -> Rule:
    found = CATALOG.find(code)
    assert found is not None
    return found


def findings(code: str, text: str) -> list:
    loaded = load_text(text, "test.yaml")
    assert not loaded.problems, loaded.problems
    result = engine.run(ObjectSet(loaded.objects), rules=[rule(code)])
    assert not result.not_checked, result.not_checked
    return result.findings


def fixture_findings(code: str, name: str) -> dict[str, list]:
    loaded = load_paths([str(FIXTURES / name)])
    result = engine.run(ObjectSet(loaded.objects), rules=[rule(code)])
    by_name: dict[str, list] = {}
    for f in result.findings:
        by_name.setdefault(f.object.name, []).append(f)
    return by_name


def test_all_eight_infrastructure_rules_are_registered() -> None:
    assert [r.code for r in MINE] == [f"RG30{i}" for i in range(1, 9)]
    assert [r.name for r in MINE] == [
        "service-external-ips", "host-network-controller-unpinned",
        "host-network-without-cluster-dns", "host-network-replicas-exceed-nodes",
        "gateway-node-selector-mismatch", "ingress-class-missing",
        "ray-head-service-name-mismatch", "deprecated-ingress-api"]


# --- RG307: the fix names the Service KubeRay really creates --------------------------------

def test_head_service_fix_names_the_real_service() -> None:
    got = fixture_findings("RG307", "ray-head-service-name-mismatch.yaml")
    (ingress,) = got["fires-guide-ingress-wrong-release"]
    assert ingress.field == "spec.rules[0].http.paths[0].backend.service.name"
    assert "raycluster-kuberay-head-svc" in ingress.fix
    assert "Error obtaining Service \"raycluster/ray-cluster-kuberay-head-svc\"" in ingress.message
    tcp = {f.field: f for f in got["tcp-services"]}
    assert set(tcp) == {'data["10001"]', 'data["6379"]'}
    assert tcp['data["10001"]'].fix == \
        'Change the entry to "10001": "raycluster/raycluster-kuberay-head-svc:10001".'
    (default,) = got["fires-release-name-without-suffix"]
    assert default.field == "spec.defaultBackend.service.name"
    assert "raycluster-kuberay-head-svc" in default.fix
    (elsewhere,) = got["fires-head-service-in-other-namespace"]
    assert "namespace ml" in elsewhere.fix


def test_head_service_fix_keeps_proxy_suffix_and_moves_namespace() -> None:
    got = fixture_findings("RG307", "ray-head-service-name-mismatch.tcp.yaml")
    (moved,) = got["tcp-services"]
    assert moved.fix == 'Change the entry to "10001": "raycluster/ray-cluster-kuberay-head-svc:10001".'
    (typo,) = got["ingress-nginx-tcp"]
    assert typo.fix == 'Change the entry to "6379": "serving/llm-head-svc:6379".'


def test_head_service_rule_is_silent_without_ray_clusters() -> None:
    text = (FIXTURES / "ray-head-service-name-mismatch.yaml").read_text()
    docs = [d for d in text.split("\n---\n") if "kind: RayCluster" not in d]
    assert findings("RG307", "\n---\n".join(docs)) == []


def test_legacy_truncated_head_service_name_is_accepted() -> None:
    long_name = "a-very-long-raycluster-name-for-the-research-team-x"  # 51 characters
    legacy = (long_name + "-head-svc")[-50:]
    legacy = legacy if legacy[0].isalpha() else "r" + legacy[1:]
    text = f"""
apiVersion: ray.io/v1
kind: RayCluster
metadata: {{name: {long_name}, namespace: ray}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: old-kuberay, namespace: ray}}
spec:
  ingressClassName: nginx
  defaultBackend: {{service: {{name: {legacy}, port: {{number: 8265}}}}}}
"""
    assert findings("RG307", text) == []
    assert findings("RG307", text.replace(legacy, "not-" + legacy[4:]))


# --- RG301 / RG306 / RG304 / RG305: precise fixes, fields, severities -------------------------

def test_external_ips_fix_moves_the_address_to_metallb() -> None:
    got = fixture_findings("RG301", "service-external-ips.yaml")
    (lb,) = got["fires-load-balancer-with-external-ip"]
    assert 'metallb.io/loadBalancerIPs: "192.168.10.50"' in lb.fix
    (plain,) = got["fires-several-node-ips"]
    assert plain.field == "spec.externalIPs" and plain.severity.value == "warning"
    assert "nodeSelector" in plain.fix and "MetalLB" in plain.fix


def test_ingress_class_fix_uses_the_controllers_class_and_reports_assumptions() -> None:
    got = fixture_findings("RG306", "ingress-class-missing.with-classes.yaml")
    assert got["fires-no-class-no-default"][0].fix == "Set spec.ingressClassName: ray-gw."
    assert got["fires-no-class-no-default"][0].assumption is None
    assert "ray-gw" in got["fires-annotation-wrong-for-controller"][0].fix
    defaults = fixture_findings("RG306", "ingress-class-missing.yaml")
    (no_class,) = defaults["fires-no-class-at-all"]
    assert no_class.assumption and "v1.15.1" in no_class.assumption
    assert no_class.fix == "Set spec.ingressClassName: nginx."
    (both,) = defaults["fires-annotation-disagrees-with-field"]
    assert both.severity.value == "error"
    assert both.field == 'metadata.annotations["kubernetes.io/ingress.class"]'
    assert defaults["fires-annotation-only"][0].severity.value == "info"


def test_two_default_ingress_classes_make_a_classless_ingress_an_error() -> None:
    text = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: a, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: b, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}
spec: {controller: example.com/other}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: dash, namespace: ray}
spec:
  defaultBackend: {service: {name: ray-head-svc, port: {number: 8265}}}
"""
    (f,) = findings("RG306", text)
    assert f.severity.value == "error" and "more than one IngressClass is marked default" in f.message


def test_watch_ingress_without_class_silences_the_classless_case() -> None:
    base = (FIXTURES / "ingress-class-missing.with-classes.yaml").read_text()
    assert "fires-no-class-no-default" in {f.object.name for f in findings("RG306", base)}
    watched = base.replace("--controller-class=k8s.io/ingress-nginx]",
                           "--controller-class=k8s.io/ingress-nginx, --watch-ingress-without-class=true]")
    assert "fires-no-class-no-default" not in {f.object.name for f in findings("RG306", watched)}


def test_replicas_findings_point_at_replicas_and_strategy() -> None:
    got = fixture_findings("RG304", "host-network-replicas-exceed-nodes.yaml")
    (excess,) = got["fires-two-replicas-one-pinned-node"]
    assert excess.field == "spec.replicas" and excess.fix == "Set spec.replicas: 1 (one hostNetwork pod per usable node)."
    (rollout,) = got["fires-rollout-cannot-surge"]
    assert rollout.field == "spec.replicas" and "maxUnavailable: 1" in rollout.fix
    assert "maxSurge 1, maxUnavailable 0" in rollout.message


@pytest.mark.parametrize("strategy, fires", [
    ("{type: Recreate}", False),
    ("{rollingUpdate: {maxUnavailable: 1}}", False),
    ("{rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}", True),
    ("{rollingUpdate: {maxUnavailable: '25%', maxSurge: '25%'}}", True),
    ("{rollingUpdate: {maxUnavailable: '100%', maxSurge: '25%'}}", False),
])
def test_rollout_budget_on_a_pinned_node(strategy: str, fires: bool) -> None:
    text = f"""
apiVersion: v1
kind: Node
metadata: {{name: gw, labels: {{ingress-ready: "true"}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ctrl, namespace: ingress-nginx}}
spec:
  replicas: 1
  strategy: {strategy}
  template:
    spec:
      hostNetwork: true
      nodeSelector: {{ingress-ready: "true"}}
      containers:
      - {{name: c, image: registry.k8s.io/ingress-nginx/controller:v1.15.1, ports: [{{containerPort: 80}}]}}
"""
    assert bool(findings("RG304", text)) is fires


def test_node_selector_findings_point_at_the_failing_key() -> None:
    got = fixture_findings("RG305", "gateway-node-selector-mismatch.yaml")
    (none,) = got["fires-selector-matches-no-node"]
    assert none.field == 'spec.template.spec.nodeSelector.ingress-ready'
    assert none.severity.value == "error"
    assert "kubectl label node gateway-33 ingress-ready=yes --overwrite" in none.fix
    (two,) = got["fires-selector-matches-two-nodes"]
    assert two.severity.value == "warning"
    assert two.field == 'spec.template.spec.nodeSelector["node-role/edge"]'


def test_unpinned_daemonset_is_a_warning_and_deployment_an_error() -> None:
    got = fixture_findings("RG302", "host-network-controller-unpinned.yaml")
    assert got["fires-os-selector-only"][0].severity.value == "error"
    assert got["fires-daemonset-on-every-node"][0].severity.value == "warning"
    assert got["fires-os-selector-only"][0].field == "spec.template.spec.hostNetwork"


# --- The quoted errors are real --------------------------------------------------------------

def test_deprecated_api_messages_match_the_real_schemas() -> None:
    """kubernetes-validate (the real OpenAPI schemas) rejects exactly what RG308 flags, with the
    text RG308 quotes; the dont-fire shapes validate."""
    got = fixture_findings("RG308", "deprecated-ingress-api.yaml")
    for doc in yaml.safe_load_all((FIXTURES / "deprecated-ingress-api.yaml").read_text()):
        name = doc["metadata"]["name"]
        if name == "dont-fire-odd-shapes":
            continue
        try:
            kubernetes_validate.validate(doc, "1.30", strict=True)
            error = None
        except kubernetes_validate.SchemaNotFoundError:
            error = "removed"
        except kubernetes_validate.ValidationError as e:
            error = str(e).splitlines()[0]
        if name.startswith("dont-fire-"):
            assert error is None, (name, error)
            continue
        assert error is not None, f"{name} should be invalid for Kubernetes 1.30"
        if error == "removed":
            assert f'in version "{doc["apiVersion"]}"' in got[name][0].message
        else:
            assert any(error in f.message for f in got[name]), (error, [f.message for f in got[name]])


def _fixture_docs(prefix: str) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(FIXTURES.glob(f"{prefix}*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


@pytest.mark.parametrize("rule_name", [r.name for r in MINE if r.code != "RG308"])
def test_nearest_correct_cases_are_valid_manifests(rule_name: str) -> None:
    """The dont-fire objects are what a careful engineer would write: they pass the real
    Kubernetes 1.30 schemas (kinds without a built-in schema, e.g. RayCluster, are skipped)."""
    checked = 0
    for doc in _fixture_docs(rule_name):
        name = (doc.get("metadata") or {}).get("name", "")
        if not name.startswith("dont-fire-") or "odd" in name or "not-a-number" in name:
            continue
        try:
            kubernetes_validate.validate(doc, "1.30", strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            continue
        checked += 1
    assert checked, f"no dont-fire object of {rule_name} was schema-checked"


@pytest.mark.parametrize("code, pasted", [
    ("RG304", "Warning  FailedScheduling  default-scheduler  0/3 nodes are available: 1 node(s) "
              "didn't have free ports for the requested pod ports, 2 node(s) didn't match Pod's "
              "node affinity/selector. preemption: 0/3 nodes are available"),
    ("RG305", "0/5 nodes are available: 5 node(s) didn't match Pod's node affinity/selector."),
    ("RG306", 'E0412 store.go:93] "Ignoring ingress because of error while validating ingress '
              'class" ingress="raycluster/ray-head-ingress" error="ingress does not contain a '
              'valid IngressClass"'),
    ("RG306", 'The Ingress "x" is invalid: annotations.kubernetes.io/ingress.class: Invalid value: '
              '"nginx-internal": must match `ingressClassName` when both are specified'),
    ("RG307", 'W0412 controller.go:412] Error getting Service "raycluster/ray-cluster-kuberay-head-svc": '
              'no object matching key "raycluster/ray-cluster-kuberay-head-svc" in local store'),
    ("RG308", 'error: resource mapping not found for name: "ray" namespace: "" from "ing.yaml": '
              'no matches for kind "Ingress" in version "extensions/v1beta1"'),
    ("RG303", '2026/04/12 10:00:00 [error] 42#42: *7 ray-auth.raycluster.svc.cluster.local could '
              'not be resolved (3: Host not found)'),
])
def test_pasted_errors_find_the_rule(code: str, pasted: str) -> None:
    assert rule(code).matches_error(pasted)


# --- Odd input never crashes a rule -----------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=8),
                     st.sampled_from(["true", "ClusterFirst", "Exists", "In", "25%", "NoSchedule",
                                      "ray/x-head-svc:10001", "a-head-svc", "nginx"]))
_keys = st.sampled_from([
    "spec", "template", "hostNetwork", "nodeSelector", "affinity", "nodeAffinity",
    "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", "matchExpressions",
    "matchFields", "key", "operator", "values", "tolerations", "taints", "effect", "containers",
    "ports", "containerPort", "hostPort", "image", "args", "dnsPolicy", "dnsConfig", "replicas",
    "strategy", "rollingUpdate", "maxSurge", "maxUnavailable", "externalIPs", "type", "rules",
    "http", "paths", "backend", "service", "name", "port", "number", "serviceName",
    "servicePort", "defaultBackend", "ingressClassName", "data", "10001", "labels",
    "annotations", "status", "head", "serviceName", "headGroupSpec", "unschedulable"])
_values = st.recursive(_scalars, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(_keys, children, max_size=4)), max_leaves=25)
_kinds = st.sampled_from(["Deployment", "DaemonSet", "Service", "Ingress", "IngressClass",
                          "ConfigMap", "Node", "RayCluster"])
_versions = st.sampled_from(["apps/v1", "v1", "networking.k8s.io/v1", "extensions/v1beta1",
                             "networking.k8s.io/v1beta1", "ray.io/v1", 7, None])


@st.composite
def _objects(draw: Any) -> KubeObject:
    raw = {"apiVersion": draw(_versions), "kind": draw(_kinds),
           "metadata": draw(st.one_of(_values, st.fixed_dictionaries({
               "name": st.sampled_from(["tcp-services", "a", "raycluster-kuberay"]),
               "namespace": st.sampled_from(["ingress-nginx", "raycluster"]),
               "labels": _values, "annotations": _values}))),
           "spec": draw(_values), "data": draw(_values), "status": draw(_values)}
    return KubeObject(raw, Origin("fuzz.yaml"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_objects(), min_size=1, max_size=8))
def test_odd_input_never_crashes_the_infrastructure_rules(objects: list[KubeObject]) -> None:
    result = engine.run(ObjectSet(objects), rules=MINE)
    assert not result.not_checked, result.not_checked
    for f in result.findings:
        assert f.fix.endswith(".") and f.message
