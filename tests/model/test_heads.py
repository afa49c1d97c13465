"""model/heads.py: which objects are Ray heads and which Services reach them, with confidence.

Expectations come from KubeRay v1.7.0's own builders and tests (``common/service.go`` and
``service_test.go``, ``common/ingress.go`` and ``ingress_test.go``, ``utils/util.go``), the
deprecated Ray chart (``deploy/charts/ray`` + ``ray_operator/operator_utils.py``), the KubeRay
``ray-cluster`` chart's naming and Ray's ``ray start`` flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from raygate import engine, kuberay
from raygate.model import exposure, heads
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.rules import CATALOG
from raygate.sources.files import load_paths

FIXTURES = Path(__file__).parents[1] / "rules" / "fixtures"


def objects(text: str) -> ObjectSet:
    return ObjectSet(KubeObject(doc, Origin("test.yaml", i)) for i, doc in
                     enumerate(yaml.safe_load_all(text)) if doc)


def ray_cluster(name: str, head: dict[str, Any] | None = None, ns: str = "default",
                annotations: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    head_spec = {"rayStartParams": {}, "template": {"spec": {"containers": [
        {"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}}
    head_spec.update(head or {})
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
            "spec": {"headGroupSpec": head_spec}, **extra}


def of(*docs: dict[str, Any]) -> ObjectSet:
    return ObjectSet(KubeObject(d, Origin("test.yaml", i)) for i, d in enumerate(docs))


# --- KubeRay CRs and their children: certain -------------------------------------------------

def test_raycluster_head_service_names_follow_generate_head_service_name() -> None:
    objs = of(ray_cluster("raycluster-sample"),
              ray_cluster("custom", {"headService": {"metadata": {"name": "user-custom-name"}}}),
              ray_cluster("reported", status={"head": {"serviceName": "reported-svc"}}))
    for name, owner in [("raycluster-sample-head-svc", "raycluster-sample"),
                        ("user-custom-name", "custom"), ("reported-svc", "reported")]:
        found = heads.for_service(objs, "default", name)
        assert found is not None and found.confidence == heads.CERTAIN, name
        assert found.ray is not None and found.ray.name == owner
    # The default name is not created when the headService names another one.
    assert heads.for_service(objs, "default", "custom-head-svc") is None or \
        not heads.for_service(objs, "default", "custom-head-svc").certain


def test_rayservice_children_are_kuberays() -> None:
    rs = {"apiVersion": "ray.io/v1", "kind": "RayService",
          "metadata": {"name": "rayservice-sample", "namespace": "serve"},
          "spec": {"rayClusterConfig": ray_cluster("x")["spec"]},
          "status": {"activeServiceStatus": {"rayClusterName": "rayservice-sample-x7k2p"}}}
    objs = of(rs)
    certain = ["rayservice-sample-head-svc", "rayservice-sample-serve-svc",
               "rayservice-sample-x7k2p-head-svc",
               "rayservice-sample-b9zq4-head-svc",  # GenerateRayClusterName since v1.4.0
               "rayservice-sample-raycluster-tq2vw-head-svc"]  # before v1.4.0
    for name in certain:
        found = heads.for_service(objs, "serve", name)
        assert found is not None and found.certain, name
        assert found.ray is not None and found.ray.kind == "RayService"
        assert kuberay.owner_of_service(objs, "serve", name) is found.ray
    assert heads.for_service(objs, "serve", "rayservice-sample-serve-svc").serve
    assert not kuberay.is_head_service(objs, KubeObject(
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "rayservice-sample-serve-svc", "namespace": "serve"}},
        Origin("x")))
    # Not KubeRay's suffix alphabet (vowels, 0/1/3) or length: only a name-shaped guess.
    for name in ["rayservice-sample-abcde-head-svc", "rayservice-sample-x7k2-head-svc",
                 "other-x7k2p-head-svc"]:
        found = heads.for_service(objs, "serve", name)
        assert found is None or not found.certain, name
    # Another namespace knows nothing of this RayService.
    found = heads.for_service(objs, "other", "rayservice-sample-x7k2p-head-svc")
    assert found is not None and not found.certain


def test_rayjob_cluster_and_cluster_selector() -> None:
    job = {"apiVersion": "ray.io/v1", "kind": "RayJob",
           "metadata": {"name": "rayjob-sample", "namespace": "default"},
           "spec": {"rayClusterSpec": ray_cluster("x")["spec"]},
           "status": {"rayClusterName": "rayjob-sample-m5d8c"}}
    selecting = {"apiVersion": "ray.io/v1", "kind": "RayJob",
                 "metadata": {"name": "uses-existing", "namespace": "default"},
                 "spec": {"clusterSelector": {"ray.io/cluster": "shared"}}}
    objs = of(job, selecting)
    for name in ["rayjob-sample-head-svc", "rayjob-sample-m5d8c-head-svc"]:
        assert heads.for_service(objs, "default", name).certain, name
    # reconcileServices returns early with a clusterSelector: no <rayjob>-head-svc.
    found = heads.for_service(objs, "default", "uses-existing-head-svc")
    assert found is None or not found.certain
    shared = heads.for_service(objs, "default", "shared-head-svc")
    assert shared is not None and shared.certain and shared.head.auth == "unknown"


def test_services_carrying_kuberays_head_label_are_certain() -> None:
    objs = objects("""
apiVersion: v1
kind: Service
metadata: {name: my-dashboard, namespace: ray}
spec:
  selector: {ray.io/cluster: c1, ray.io/node-type: head}
  ports: [{name: web, port: 80, targetPort: 8265}]
""")
    found = heads.for_service(objs, "ray", "my-dashboard")
    assert found is not None and found.certain and "ray.io/node-type: head" in found.evidence
    assert found.role("80") == "dashboard"


# --- Charts and commands: likely --------------------------------------------------------------

def test_kuberay_helm_chart_release_name() -> None:
    """helm install ray-cluster kuberay/ray-cluster -> RayCluster ray-cluster-kuberay (the
    chart's nameOverride "kuberay", corpus/kuberay/helm-ray-cluster/_helpers.tpl)."""
    helpers = (Path(__file__).parents[2] / ".." / "shared" / "corpus" / "kuberay" /
               "helm-ray-cluster" / "values.yaml")
    if helpers.exists():
        assert 'nameOverride: "kuberay"' in helpers.read_text()
    without = of()
    found = heads.for_service(without, "default", "ray-cluster-kuberay-head-svc")
    assert found is not None and found.confidence == heads.LIKELY
    assert "Helm chart" in found.evidence
    with_cr = of(ray_cluster("ray-cluster-kuberay"))
    assert heads.for_service(with_cr, "default", "ray-cluster-kuberay-head-svc").certain


def test_old_ray_chart_head_service() -> None:
    """deploy/charts/ray: cluster.ray.io/v1 RayCluster <release>; the old operator names the
    head Service <release>-ray-head (operator_utils.get_provider_config)."""
    legacy = {"apiVersion": "cluster.ray.io/v1", "kind": "RayCluster",
              "metadata": {"name": "example-cluster", "namespace": "ray"},
              "spec": {"headPodType": "rayHeadType"}}
    objs = of(legacy)
    found = heads.for_service(objs, "ray", "example-cluster-ray-head")
    assert found is not None and found.confidence == heads.LIKELY
    assert found.head.auth == "disabled"  # Ray 1.x: no token auth
    assert not kuberay.is_ray(objs.get("RayCluster", "ray", "example-cluster"))
    # Name alone, without the CR: still the chart's naming.
    alone = heads.for_service(of(), "ray", "tianbin-ray-head")
    assert alone is not None and alone.confidence == heads.LIKELY


@pytest.mark.parametrize(("command", "expected"), [
    ("ray start --head", {"gcs-server": 6379, "dashboard": 8265, "client": 10001}),
    ("ulimit -n 65536; ray start --head --port=6379 --no-monitor --dashboard-host 0.0.0.0",
     {"gcs-server": 6379, "dashboard": 8265, "client": 10001}),
    ("ray start --head --port 6380 --dashboard-port=8266 --ray-client-server-port 20001 --block",
     {"gcs-server": 6380, "dashboard": 8266, "client": 20001}),
    ("ray start --head --include-dashboard=false", {"gcs-server": 6379, "client": 10001}),
    ("pip install x && /opt/conda/bin/ray start --head --block",
     {"gcs-server": 6379, "dashboard": 8265, "client": 10001}),
    ("ray start --address=ray-head:6379 --block", None),  # a worker
    ("python serve.py --head", None),
])
def test_ray_start_ports(command: str, expected: dict[str, int] | None) -> None:
    assert heads.ray_start_ports(command) == expected


@pytest.mark.parametrize(("container", "auth"), [
    ({"image": "rayproject/ray:2.9.0"}, "disabled"),
    ({"image": "rayproject/ray:2.53.0-py311-gpu"}, "disabled"),
    ({"image": "rayproject/ray:2.59.0"}, "disabled"),
    ({"image": "rayproject/ray:2.59.0", "env": [{"name": "RAY_AUTH_TOKEN", "value": "x"}]},
     "token"),
    ({"image": "rayproject/ray:2.61.0"}, "unknown"),
    ({"image": "rayproject/ray:latest"}, "unknown"),
    ({"image": "registry.example.com/ray-runtime:prod"}, "unknown"),
    ({"image": "rayproject/ray:2.9.0", "env": [{"name": "RAY_AUTH_MODE", "value": "token"}]},
     "token"),
    ({"image": "rayproject/ray:2.53.0", "envFrom": [{"configMapRef": {"name": "ray-env"}}]},
     "unknown"),
    ({"image": "rayproject/ray:2.53.0",
      "env": [{"name": "RAY_AUTH_MODE", "valueFrom": {"secretKeyRef": {"name": "a", "key": "b"}}}]},
     "unknown"),
])
def test_plain_head_auth(container: dict[str, Any], auth: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "head", "namespace": "ml"},
           "spec": {"containers": [{"name": "ray", "command": ["ray", "start", "--head"],
                                    **container}]}}
    (head,) = heads.heads(of(pod))
    assert head.auth == auth, head.auth_reason


def test_service_selecting_a_ray_start_workload_resolves_ports_by_name_and_number() -> None:
    objs = objects("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: ray-head, namespace: ml}
spec:
  selector: {matchLabels: {app: ray}}
  template:
    metadata: {labels: {app: ray, tier: head}}
    spec:
      containers:
      - name: ray
        image: rayproject/ray:2.40.0
        args: ["ray start --head --ray-client-server-port=20001 --block"]
        ports: [{name: dash, containerPort: 8265}]
---
apiVersion: v1
kind: Service
metadata: {name: ray, namespace: ml}
spec:
  selector: {app: ray}
  ports:
  - {name: a, port: 80, targetPort: dash}
  - {name: b, port: 20001}
  - {name: c, port: 7000, targetPort: 6379}
---
apiVersion: v1
kind: Service
metadata: {name: other, namespace: ml}
spec:
  selector: {app: ray, tier: worker}
  ports: [{port: 80}]
---
# A ReplicaSet owned by the Deployment does not count twice.
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: ray-head-5d8f
  namespace: ml
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: ray-head, uid: u}]
spec:
  template:
    metadata: {labels: {app: ray, tier: head}}
    spec:
      containers: [{name: ray, image: x, args: ["ray start --head"]}]
""")
    assert len(heads.heads(objs)) == 1
    found = heads.for_service(objs, "ml", "ray")
    assert found is not None and found.confidence == heads.LIKELY
    assert "Deployment ml/ray-head runs `ray start --head`" in found.evidence
    assert (found.role("80"), found.role("20001"), found.role("7000"), found.role("b")) == \
        ("dashboard", "client", "gcs-server", "client")
    assert heads.for_service(objs, "ml", "other") is None


# --- Port numbers alone: possible ------------------------------------------------------------

def test_port_numbers_alone() -> None:
    objs = objects("""
apiVersion: v1
kind: Service
metadata: {name: redis, namespace: x}
spec:
  type: LoadBalancer
  ports: [{port: 6379}]
---
apiVersion: v1
kind: Service
metadata: {name: maybe-ray, namespace: x}
spec:
  type: NodePort
  ports: [{port: 6379}, {port: 8265}]
---
apiVersion: v1
kind: Service
metadata: {name: client-only, namespace: x}
spec:
  ports: [{port: 443, targetPort: 10001}]
""")
    assert heads.for_service(objs, "x", "redis") is None
    for name in ("maybe-ray", "client-only"):
        found = heads.for_service(objs, "x", name)
        assert found is not None and found.confidence == heads.POSSIBLE
        assert found.head.auth == "unknown"
        assert "port numbers" in found.note()
    # A route to a Service raygate cannot see, by its port number alone, is not a head.
    assert heads.for_service(objs, "x", "legacy-api", "10001") is None


# --- What a CR asks KubeRay to publish --------------------------------------------------------

def test_declared_head_service_type_appends_default_ports() -> None:
    """TestUserSpecifiedHeadService: a LoadBalancer headService with user ports gets KubeRay's
    default ports appended; the user's type wins over serviceType."""
    rc = ray_cluster("c", {"serviceType": "ClusterIP", "headService": {
        "metadata": {"name": "user-custom-name"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "userPort", "port": 12345},
                                                   {"name": "client", "port": 98765}]}}})
    objs = of(rc)
    (declared,) = heads.declared_exposures(objs, objs.get("RayCluster", "default", "c"))
    assert declared.kind == "service"
    assert declared.field == ("spec", "headGroupSpec", "headService", "spec", "type")
    assert {"dashboard", "client", "gcs-server", "serve", "metrics"} <= set(declared.roles)
    # The Service in the inputs (a snapshot) speaks for itself: nothing declared twice.
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "user-custom-name", "namespace": "default"},
           "spec": {"type": "LoadBalancer", "ports": [{"name": "dashboard", "port": 8265}]}}
    objs = of(rc, svc)
    assert heads.declared_exposures(objs, objs.get("RayCluster", "default", "c")) == []


def test_generated_ingress_matches_kuberays_builder() -> None:
    """TestBuildIngressForHeadService / ...WithIngressFields (common/ingress_test.go, v1.7.0)."""
    rc = ray_cluster("raycluster-sample", annotations={
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/configuration-snippet": "x"})
    rc["spec"]["headGroupSpec"]["enableIngress"] = True
    cr = KubeObject(rc, Origin("rc.yaml", 0, 7))
    ing = heads.generated_ingress(cr)
    assert ing is not None and ing.name == "raycluster-sample-head-ingress"
    assert ing.spec["ingressClassName"] == "nginx"
    assert "kubernetes.io/ingress.class" not in ing.annotations
    assert "nginx.ingress.kubernetes.io/configuration-snippet" in ing.annotations
    (path,) = ing.spec["rules"][0]["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"] == {"name": "raycluster-sample-head-svc",
                                          "port": {"number": 8265}}
    assert ing.origin.line == 7
    rc["spec"]["headGroupSpec"]["ingressOptions"] = {
        "host": "ray.example.com", "path": "/dashboard", "pathType": "Prefix",
        "tls": [{"hosts": ["ray.example.com"], "secretName": "ray-tls"}]}
    ing = heads.generated_ingress(KubeObject(rc, Origin("rc.yaml")))
    assert ing.spec["rules"][0]["host"] == "ray.example.com"
    assert ing.spec["rules"][0]["http"]["paths"][0]["path"] == "/dashboard"
    assert ing.spec["tls"][0]["secretName"] == "ray-tls"
    rc["spec"]["headGroupSpec"]["enableIngress"] = False
    assert heads.generated_ingress(KubeObject(rc, Origin("rc.yaml"))) is None


# --- Wiring: the exposure list and the rules see these heads ----------------------------------

def test_exposures_carry_the_head_and_its_confidence() -> None:
    loaded = load_paths([str(FIXTURES / "unauthenticated-ray-exposure.plain-heads.yaml")])
    objs = ObjectSet(loaded.objects)
    by_via = {e.via.name: e for e in exposure.ray_exposures(objs)}
    lb = by_via["fires-plain-head-lb"]
    assert lb.head is not None and lb.head.confidence == heads.LIKELY
    assert lb.ray_port == "dashboard"  # targetPort "dash" -> containerPort 8265
    assert by_via["fires-old-chart-dashboard"].head.confidence == heads.LIKELY
    assert by_via["dont-fire-port-numbers-only"].head.confidence == heads.POSSIBLE


def test_severity_follows_what_is_known_about_auth() -> None:
    loaded = load_paths([str(FIXTURES / "unauthenticated-ray-exposure.plain-heads.yaml")])
    result = engine.run(ObjectSet(loaded.objects), rules=[CATALOG.find("RG104")])
    severity = {f.object.name: f.severity.value for f in result.findings}
    assert severity["fires-plain-head-lb"] == "error"  # Ray 2.9: no token auth at all
    assert severity["fires-plain-head-253"] == "error"  # 2.53: off unless asked for
    assert severity["fires-plain-head-auth-unknown"] == "warning"  # cannot be known
    assert "dont-fire-port-numbers-only" not in severity


def test_rg205_and_rg104_agree_on_kuberay_service_type() -> None:
    """The issue's contradiction: serviceType LoadBalancer publishes the client port (RG104
    says so), so RG205 must not claim it is not exposed."""
    loaded = load_paths([str(FIXTURES / "ray-client-not-exposed.kuberay-knobs.yaml")])
    objs = ObjectSet(loaded.objects)
    result = engine.run(objs, rules=[CATALOG.find("RG104"), CATALOG.find("RG205")])
    rg104 = {(f.object.name, p) for f in result.findings if f.rule.code == "RG104"
             for p in f.extra.get("ports", [])}
    assert ("lb", "client") in rg104 and ("np", "client") in rg104
    rg205 = {f.object.name for f in result.findings if f.rule.code == "RG205"}
    assert not rg205 & {"dont-fire-dashboard-of-lb-cluster",
                        "dont-fire-dashboard-of-nodeport-head-service"}


@pytest.mark.parametrize(("command", "host"), [
    ("ray start --head --block", None),
    ("ray start --head --dashboard-host=0.0.0.0", "0.0.0.0"),
    ("ray start --head --dashboard-host 127.0.0.1 --port 6380", "127.0.0.1"),
    ("ray start --address=head:6379 --dashboard-host=0.0.0.0", None),  # a worker: no head
])
def test_ray_start_dashboard_host(command: str, host: str | None) -> None:
    assert heads.ray_start_flag(command, "--dashboard-host") == host


def test_command_heads_default_to_rays_loopback_dashboard() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h", "namespace": "ml"},
           "spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.40.0",
                                    "command": ["ray", "start", "--head"]}]}}
    (head,) = heads.heads(of(pod))
    assert head.dashboard_host == "127.0.0.1"
    (kuberay_head,) = heads.heads(of(ray_cluster("c")))
    assert kuberay_head.dashboard_host is None  # KubeRay forces 0.0.0.0


def test_ray_start_reads_the_web_ui_flag_names_of_ray_before_0_8_6() -> None:
    # ray-project/ray#8999 renamed --webui-host to --dashboard-host (June 2020).
    old = "ray start --head --redis-port=6379 --webui-host 0.0.0.0 --block"
    assert heads.ray_start_flag(old, "--dashboard-host") == "0.0.0.0"
    assert heads.ray_start_flag("ray start --head --block", "--dashboard-host") is None
    assert "dashboard" not in (heads.ray_start_ports("ray start --head --include-webui=false") or {})
