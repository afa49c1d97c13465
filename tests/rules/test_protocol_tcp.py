"""The tcp-services rules (RG201-RG206) on whole setups: the seed guide's Pinned Gateway, the
real static install manifests, hostile input, and the error strings ``raygate explain`` matches.

The per-rule fixtures (tests/rules/fixtures) pin each case; these tests check how the rules
behave together, which only shows on complete object sets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygate import engine
from raygate.objects import ObjectSet
from raygate.rules import CATALOG
from raygate.sources.files import load_paths, load_text

TCP_RULES = [CATALOG.find(c) for c in ("RG201", "RG202", "RG203", "RG204", "RG205", "RG206")]
CORPUS = Path(__file__).resolve().parents[2] / "../shared/corpus"

# The seed guide's Step 2 and Step 3, completed into objects (its RayCluster comes from the
# kuberay ray-cluster chart with release "ray-cluster": head Service ray-cluster-kuberay-head-svc).
GUIDE = """
apiVersion: v1
kind: ConfigMap
metadata: {name: tcp-services, namespace: ingress-nginx}
data:
  "10001": "raycluster/ray-cluster-kuberay-head-svc:10001"
  "9000": "raycluster/ray-cluster-kuberay-head-svc:9000"
  "6379": "raycluster/ray-cluster-kuberay-head-svc:6379"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: ingress-nginx}}
  template:
    metadata: {labels: {app.kubernetes.io/name: ingress-nginx}}
    spec:
      hostNetwork: {host_network}
      dnsPolicy: ClusterFirstWithHostNet
      nodeSelector: {ingress-ready: "true"}
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        args:
        - /nginx-ingress-controller
        - --tcp-services-configmap=$(POD_NAMESPACE)/tcp-services
---
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: ingress-nginx}
  ports:
  - {name: http, port: 80, targetPort: 80}
  - {name: https, port: 443, targetPort: 443}
---
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: ray-cluster-kuberay, namespace: raycluster}
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: rayproject/ray:2.52.0}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ray-head-ingress, namespace: raycluster}
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: /ray(/|$)(.*)
        pathType: ImplementationSpecific
        backend: {service: {name: ray-cluster-kuberay-head-svc, port: {number: 8265}}}
"""


def guide(host_network: bool) -> str:
    return GUIDE.replace("{host_network}", "true" if host_network else "false")


def run(text: str, rules=TCP_RULES):
    loaded = load_text(text, "guide.yaml")
    assert not loaded.problems, loaded.problems
    result = engine.run(ObjectSet(loaded.objects), rules=rules)
    assert not result.not_checked, result.not_checked
    return result


def test_pinned_gateway_reports_only_the_port_9000_entry() -> None:
    result = run(guide(host_network=True))
    assert [(f.rule.code, f.object.name, f.field) for f in result.findings] == [
        ("RG202", "tcp-services", 'data["9000"]')]
    finding = result.findings[0]
    assert finding.message.startswith(
        'Service "raycluster/ray-cluster-kuberay-head-svc" does not have any active Endpoint '
        "for TCP port 9000")
    assert "client 10001" in finding.fix and finding.line == 7


def test_without_host_network_the_controller_service_needs_the_live_ports() -> None:
    result = run(guide(host_network=False))
    missing = sorted(f.field for f in result.findings if f.rule.code == "RG206")
    # 9000 is dropped by the controller (RG202), so only the ports nginx listens on count.
    assert missing == ['data["10001"]', 'data["6379"]']
    assert all("Service ingress-nginx/ingress-nginx-controller (NodePort)" in f.message
               for f in result.findings if f.rule.code == "RG206")


def test_dashboard_without_tcp_map_notes_the_ray_client() -> None:
    """Information only: Ray recommends the Jobs API, which the Dashboard route serves."""
    text = guide(host_network=True)
    without_map = "---".join(d for d in text.split("---") if "kind: ConfigMap" not in d)
    result = run(without_map)
    assert [(f.rule.code, f.object.kind, f.severity.value) for f in result.findings] == [
        ("RG205", "Ingress", "info")]
    assert "ingress-nginx/tcp-services" in result.findings[0].fix


def test_dashboard_without_tcp_map_warns_when_a_driver_uses_ray_client() -> None:
    """The seed guide's symptom: a driver Job calling ray.init("ray://...") while only the
    Dashboard is exposed."""
    text = guide(host_network=True)
    without_map = "---".join(d for d in text.split("---") if "kind: ConfigMap" not in d)
    driver = """
---
apiVersion: batch/v1
kind: Job
metadata: {name: driver, namespace: raycluster}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: driver
        image: rayproject/ray:2.52.0
        command: [python, -c, "import ray; ray.init('ray://gateway.example.com:10001')"]
"""
    result = run(without_map + driver)
    [finding] = result.findings
    assert (finding.rule.code, finding.severity.value) == ("RG205", "warning")
    assert "Job raycluster/driver connects with ray://" in finding.message


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent (a user's clone)")
def test_static_manifests_do_not_read_a_tcp_map() -> None:
    """The real baremetal install has no --tcp-services-configmap (facts: ingress_nginx.md §3.4)."""
    deploy = CORPUS / "ingress-nginx" / "deploy-baremetal.yaml"
    loaded = load_paths([str(deploy)])
    assert not loaded.problems
    alone = engine.run(ObjectSet(loaded.objects), rules=TCP_RULES)
    assert not alone.findings and not alone.not_checked
    guide_map = load_text(GUIDE.split("---")[0], "tcp-services.yaml").objects
    result = engine.run(ObjectSet([*loaded.objects, *guide_map]), rules=TCP_RULES)
    assert not result.not_checked
    assert [f.rule.code for f in result.findings] == ["RG204"]
    assert "Deployment ingress-nginx/ingress-nginx-controller has no --tcp-services-configmap" \
        in result.findings[0].message
    assert result.findings[0].fix == ("Add --tcp-services-configmap=ingress-nginx/tcp-services "
                                      "to the args of Deployment ingress-nginx/ingress-nginx-controller.")


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent (a user's clone)")
def test_corpus_loads_without_tcp_findings_or_crashes() -> None:
    paths = sorted(str(p) for p in CORPUS.rglob("*.yaml") if "crds" not in p.parts)
    loaded = load_paths(paths)
    result = engine.run(ObjectSet(loaded.objects), rules=TCP_RULES)
    assert not result.not_checked
    # Nothing in the corpus is a tcp-services map; RG205 may speak about Ray Dashboard Ingresses.
    assert {f.rule.code for f in result.findings} <= {"RG205"}


def test_one_entry_reports_the_first_error_the_controller_hits() -> None:
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: tcp-services, namespace: ingress-nginx}
data:
  "80": "ray-head-svc"
"""
    result = run(text)
    codes = sorted(f.rule.code for f in result.findings)
    # Reserved-port and malformed-value are both true; each rule reports its own, once.
    assert codes == ["RG201", "RG203"]
    assert all(f.line == 6 for f in result.findings)


@pytest.mark.parametrize("code, logged", [
    ("RG201", 'W0312 10:00:00.1 1 controller.go:1120] "ray-client" is not a valid TCP port number'),
    ("RG201", "W0312 invalid format (namespace/name) found in 'ray-head-svc'"),
    ("RG202", 'W0312 10:00:00 controller.go:1156] Service "raycluster/ray-cluster-kuberay-head-svc" '
              "does not have any active Endpoint for TCP port 9000"),
    ("RG202", 'Error getting Service "ray/ray-head": no object matching key "ray/ray-head" in local store'),
    ("RG203", "Port 80 cannot be used for TCP stream services. It is reserved for the Ingress controller."),
    ("RG204", 'Error getting ConfigMap "ingress-nginx/tcp-services": no object matching key '
              '"ingress-nginx/tcp-services" in local store'),
    ("RG205", "ConnectionError: ray client connection timeout"),
])
def test_explain_matches_the_real_log_lines(code: str, logged: str) -> None:
    assert CATALOG.find(code).matches_error(logged)


def test_reported_messages_are_recognised_by_their_own_rule() -> None:
    """What a finding quotes is what `raygate explain --error` recognises."""
    fixtures = Path(__file__).parent / "fixtures"
    for rule in TCP_RULES[:4]:
        loaded = load_paths([str(p) for p in sorted(fixtures.glob(f"{rule.name}*.yaml"))][:1])
        result = engine.run(ObjectSet(loaded.objects), rules=[rule])
        quoted = [f for f in result.findings if rule.matches_error(f.message)]
        assert quoted, f"{rule.code}: no finding quotes one of its errors"


odd = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=12)
    | st.sampled_from(["ray/ray-head-svc:10001", "ray/ray-head-svc:client:PROXY", "10001", ":",
                       "a/b/c:1", "ray/:x", "/svc:1", "ray/ray-head-svc:", "$(POD_NAMESPACE)/x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(st.text(max_size=8) | st.sampled_from(["80", "10001", "8443", "+9"]),
                            odd, max_size=4),
       ports=odd, args=odd, host_network=odd, selector=odd)
def test_rules_never_crash_on_odd_input(data, ports, args, host_network, selector) -> None:
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"}, "data": data},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "c", "namespace": "ingress-nginx"},
         "spec": {"template": {"metadata": {"labels": {"app": "x"}},
                               "spec": {"hostNetwork": host_network, "containers": [
                                   {"image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                                    "args": ["/nginx-ingress-controller",
                                             "--tcp-services-configmap=ingress-nginx/tcp-services",
                                             *(args if isinstance(args, list) else [args])],
                                    "ports": ports}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "c", "namespace": "ingress-nginx"},
         "spec": {"type": "LoadBalancer", "selector": selector, "ports": ports}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ray-head-svc", "namespace": "ray"},
         "spec": {"type": "NodePort", "ports": ports}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "i", "namespace": "ray"},
         "spec": {"rules": [{"http": {"paths": [{"backend": {"service": {
             "name": "ray-head-svc", "port": {"number": 8265}}}}]}}]}},
    ]
    loaded = load_text(yaml.safe_dump_all(objects), "odd.yaml")
    result = engine.run(ObjectSet(loaded.objects), rules=TCP_RULES)
    assert not result.not_checked, result.not_checked
    for f in result.findings:
        assert f.fix.endswith(".") and f.line >= 1 and f.message
