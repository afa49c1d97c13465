"""Severities and fixes of the rules that read what protects and what reaches a Ray head.

The fixtures show each rule firing or not; these tests pin what the fixtures cannot: the
severity (what happens to the user), and that a fix, once applied, yields a working route.
"""

from __future__ import annotations

from raygate import engine
from raygate.objects import ObjectSet
from raygate.rules import CATALOG
from raygate.sources.files import load_text


def run(text: str, code: str) -> list:
    loaded = load_text(text, "t.yaml")
    assert not loaded.problems, loaded.problems
    rule = CATALOG.find(code)
    assert rule is not None
    result = engine.run(ObjectSet(loaded.objects), rules=[rule])
    assert not result.not_checked, result.not_checked
    return list(result.findings)


OPEN = """
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc, namespace: ray}
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.52.0"}]
"""


def dashboard_ingress(annotations: str = "{}", path: str = "/", ptype: str = "Prefix") -> str:
    return f"""
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: dash, namespace: ray, annotations: {annotations}}}
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: "{path}"
        pathType: {ptype}
        backend: {{service: {{name: rc-head-svc, port: {{number: 8265}}}}}}
"""


def severities(findings: list) -> list[str]:
    return sorted(f.severity.value for f in findings)


def test_rg104_severity_follows_the_protection() -> None:
    assert severities(run(OPEN + dashboard_ingress(), "RG104")) == ["error"]
    auth = "{nginx.ingress.kubernetes.io/auth-url: 'http://oauth2-proxy.auth.svc/oauth2/auth'}"
    assert severities(run(OPEN + dashboard_ingress(auth), "RG104")) == ["info"]
    allow = "{nginx.ingress.kubernetes.io/allowlist-source-range: 10.0.0.0/8}"
    assert severities(run(OPEN + dashboard_ingress(allow), "RG104")) == ["warning"]


def test_rg104_fix_for_gateway_auth_keeps_it_and_adds_token() -> None:
    auth = "{nginx.ingress.kubernetes.io/auth-type: basic, nginx.ingress.kubernetes.io/auth-secret: b}"
    [finding] = run(OPEN + dashboard_ingress(auth), "RG104")
    assert "defence in depth" in finding.fix and "authOptions.mode: token" in finding.fix


def test_rg207_fix_yields_a_working_dashboard_route() -> None:
    """Following RG207's advice must not leave RG225 (prefix kept) or RG207 firing."""
    broken = OPEN + dashboard_ingress(path="/ray(/|$)(.*)")
    [finding] = run(broken, "RG207")
    assert "rewrite-target: /$2" in finding.fix
    fixed = OPEN + dashboard_ingress("{nginx.ingress.kubernetes.io/rewrite-target: /$2}",
                                     path="/ray(/|$)(.*)", ptype="ImplementationSpecific")
    assert run(fixed, "RG207") == [] and run(fixed, "RG225") == []
    # The old advice (pathType only) leaves the route broken, and RG225 says so.
    old = OPEN + dashboard_ingress(path="/ray(/|$)(.*)", ptype="ImplementationSpecific")
    assert run(old, "RG207") == []
    [stale] = run(old, "RG225")
    assert stale.severity.value == "error" and "literal prefix" in stale.message


def test_rg225_prefix_without_rewrite_is_an_error() -> None:
    findings = run(OPEN + dashboard_ingress(path="/ray"), "RG225")
    assert severities(findings) == ["error"]
    assert "/ray/api/version" in findings[0].message


def test_rg105_unread_gcs_entry_is_a_warning_and_read_one_an_error() -> None:
    controller = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  template:
    spec:
      containers:
      - name: controller
        image: registry.k8s.io/ingress-nginx/controller:v1.15.1
        args: [/nginx-ingress-controller%s]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tcp-services, namespace: ingress-nginx}
data: {"6379": "ray/rc-head-svc:6379"}
"""
    unread = run(controller % "", "RG105")
    assert severities(unread) == ["warning"]
    read = run(controller % ", --tcp-services-configmap=ingress-nginx/tcp-services", "RG105")
    assert severities(read) == ["error"]


def test_rg205_is_information_without_ray_client_use() -> None:
    findings = run(OPEN + dashboard_ingress(), "RG205")
    assert severities(findings) == ["info"]
    assert "Ray recommends the Jobs API" in findings[0].message
    driver = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: notebook, namespace: ray}
spec:
  template:
    spec:
      containers:
      - name: jupyter
        image: rayproject/ray:2.52.0
        env: [{name: RAY_ADDRESS, value: "ray://rc-head-svc.ray:10001"}]
"""
    assert severities(run(OPEN + dashboard_ingress() + driver, "RG205")) == ["warning"]


PLAIN_HEAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ray-head, namespace: ray}
spec:
  selector: {matchLabels: {app: ray-head}}
  template:
    metadata: {labels: {app: ray-head}}
    spec:
      containers:
      - name: ray-head
        image: rayproject/ray:2.52.0
        command: [ray, start, --head, --dashboard-host=0.0.0.0, --block]
---
apiVersion: v1
kind: Service
metadata: {name: ray-head, namespace: ray}
spec:
  selector: {app: ray-head}
  ports: [{name: dashboard, port: 8265}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: dash, namespace: ray, annotations: %s}
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: ray-head, port: {number: 8265}}}
"""


def test_rg104_plain_head_behind_gateway_auth_is_information() -> None:
    assert severities(run(PLAIN_HEAD % "{}", "RG104")) == ["error"]
    auth = "{nginx.ingress.kubernetes.io/auth-url: 'http://oauth2-proxy.auth.svc/oauth2/auth'}"
    [finding] = run(PLAIN_HEAD % auth, "RG104")
    assert finding.severity.value == "info" and "RAY_AUTH_MODE=token" in finding.fix


def test_rg205_evidence_must_concern_this_head() -> None:
    def driver(namespace: str, address: str) -> str:
        return f"""
---
apiVersion: batch/v1
kind: Job
metadata: {{name: driver, namespace: {namespace}}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: driver
        image: rayproject/ray:2.52.0
        command: [python, -c, "import ray; ray.init('{address}')"]
"""
    other = run(OPEN + dashboard_ingress() + driver("elsewhere", "ray://other-head-svc:10001"),
                "RG205")
    assert severities(other) == ["info"]
    named = run(OPEN + dashboard_ingress() + driver("elsewhere", "ray://rc-head-svc.ray:10001"),
                "RG205")
    assert severities(named) == ["warning"]


def test_explain_finds_the_new_rules_from_real_messages() -> None:
    """The Dashboard's aiohttp 404 body and the controller's service-upstream log line."""
    assert CATALOG.find("RG225").matches_error("404: Not Found")
    line = ('Failed to determine a suitable ClusterIP Endpoint for Service "ray/rc-head-svc": '
            'service "rc-head-svc" does not have a port named "dashbord"')
    assert CATALOG.find("RG226").matches_error(line)
    assert not CATALOG.find("RG225").matches_error(line)


def test_rg225_legacy_built_in_ingress_severity_follows_what_is_known() -> None:
    cr = """
apiVersion: %s
kind: RayCluster
metadata:
  name: rc
  namespace: ray
  annotations: {kubernetes.io/ingress.class: nginx}
spec:
  headGroupSpec:
    enableIngress: true
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.46.0"}]
"""
    operator = """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kuberay-operator, namespace: kuberay}
spec:
  template:
    spec:
      containers: [{name: op, image: "quay.io/kuberay/operator:%s"}]
"""
    assert severities(run(cr % "ray.io/v1", "RG225")) == ["info"]
    assert severities(run(cr % "ray.io/v1alpha1", "RG225")) == ["warning"]
    assert severities(run(cr % "ray.io/v1" + operator % "v1.5.1", "RG225")) == ["error"]
    assert run(cr % "ray.io/v1" + operator % "v1.7.0", "RG225") == []
