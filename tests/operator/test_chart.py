"""charts/raygate-operator: lints, renders, validates, and grants exactly what the operator
uses (checked against the requests it really makes to the fake API server)."""

from __future__ import annotations

import copy
import re
import threading
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from raygate.operator import settings
from raygate.operator.cache import WatchCache
from raygate.operator.leader import LeaseElector, LightkubeLeaseApi
from raygate.operator.loop import lightkube_watch
from raygate.operator.reconciler import Api, Reconciler
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer
from tests.operator.test_pure import ray_cluster

helm = pytest.importorskip("helm_python", reason="helm-python-sdk (test extra) not installed")
CHART = Path(__file__).resolve().parents[2] / "charts" / "raygate-operator"
NS = "raygate-system"


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    chart = helm.Chart.load(CHART)
    out = chart.render(values or {}, name="raygate", namespace=NS, is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def test_chart_lints_clean() -> None:
    report = helm.lint(CHART, strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []


GATEWAY_VALUES = {"backend": "gateway-api",
                  "gatewayApi": {"gatewayName": "shared", "gatewayNamespace": "infra"}}


@pytest.mark.parametrize("values", [{"backend": "ingress-nginx"}, GATEWAY_VALUES,
                                    {"placement": {"mode": "metallb"}}])
def test_rendered_objects_validate(values: dict[str, Any]) -> None:
    docs = render(values)
    kinds = sorted(d["kind"] for d in docs)
    assert "Deployment" in kinds and "ClusterRole" in kinds and "Lease" not in kinds
    for d in docs:
        kubernetes_validate.validate(copy.deepcopy(d), "1.30.0", strict=True)


def test_gateway_api_needs_the_shared_gateway() -> None:
    with pytest.raises(Exception, match="gatewayApi.gatewayName is required"):
        render({"backend": "gateway-api"})


def test_config_is_what_the_operator_reads(tmp_path: Path) -> None:
    docs = render({"portRange": {"first": 31000, "last": 31100},
                   "routing": {"mode": "host", "domain": "ray.example.com"},
                   "policy": {"allowUnauthenticated": True}})
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    path = tmp_path / "operator.yaml"
    path.write_text(cm["data"]["operator.yaml"])
    s = settings.load(path)
    assert (s.port_range.first, s.port_range.last) == (31000, 31100)
    assert s.routing.mode == "host" and s.routing.domain == "ray.example.com"
    assert s.allow_unauthenticated and s.namespace == NS and s.lease_name == "raygate"
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] == 2
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["operator", "--config", "/etc/raygate/operator.yaml"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def _granted(docs: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, namespace or '*') the chart grants."""
    out = set()
    for d in docs:
        if d["kind"] not in ("ClusterRole", "Role"):
            continue
        scope = d["metadata"].get("namespace", "*") if d["kind"] == "Role" else "*"
        for rule in d["rules"]:
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    for v in rule["verbs"]:
                        out.add((g, r, v, scope))
    return out


METALLB_VALUES = {"backend": "ingress-nginx", "placement": {"mode": "metallb"}}
PINNED_VALUES = {"backend": "ingress-nginx", "placement": {
    "mode": "pinned-node", "label": "ingress-ready=true",
    "failoverLabel": "raygate.io/gateway-candidate=true"}}


@pytest.mark.parametrize("values", [{"backend": "ingress-nginx"}, GATEWAY_VALUES, METALLB_VALUES,
                                    PINNED_VALUES],
                         ids=["ingress-nginx", "gateway-api", "metallb", "pinned-node"])
def test_rbac_grants_exactly_the_verbs_the_operator_uses(fake_api: FakeApiServer,
                                                         values: dict[str, Any]) -> None:
    world.install(fake_api)
    fake_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    overrides: dict[str, Any] = {}
    if values["backend"] == "gateway-api":
        # A shared Gateway admitting ListenerSets from labelled namespaces (the operator reads
        # the clusters' Namespaces then).
        fake_api.add({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "t", "labels": {"ray": "yes"}}})
        fake_api.add({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                      "metadata": {"name": "shared", "namespace": "infra"},
                      "spec": {"gatewayClassName": "eg", "allowedListeners": {"namespaces": {
                          "from": "Selector", "selector": {"matchLabels": {"ray": "yes"}}}},
                          "listeners": [{"name": "web", "protocol": "HTTP", "port": 80,
                                         "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
                     manager="helm")
        overrides = {"backend": "gateway-api", **{"gatewayApi": values["gatewayApi"]}}
    if "placement" in values:
        overrides["placement"] = values["placement"]
    if values.get("placement", {}).get("mode") == "pinned-node":
        # The gateway node is NotReady and a candidate is labelled: the label moves (patch).
        from tests.operator.test_pure import node
        fake_api.add(node("node-1", "192.168.1.33", ready=False, **{"ingress-ready": "true"}))
        fake_api.add(node("node-2", "192.168.1.34", **{"raygate.io/gateway-candidate": "true"}))
    if values.get("placement", {}).get("mode") == "metallb":
        fake_api.add({"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": "ingress-nginx-controller", "namespace": world.CTRL_NS},
                      "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
                      "status": {"loadBalancer": {"ingress": [{"ip": "192.168.10.50"}]}}})
    service = ray_cluster("svc", "t", "us")
    service["kind"], service["spec"] = "RayService", {"rayClusterConfig": service["spec"]}
    job = ray_cluster("job", "t", "uj")
    job["kind"], job["spec"] = "RayJob", {"rayClusterSpec": job["spec"]}
    fake_api.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub", auth=None),
                       service, job])
    fake_api.reset_requests()
    with ClusterSource(fake_api.kubeconfig_path) as source:
        s = settings.load(None, {"namespace": NS, "leaseName": "raygate",
                                 "gatewayAddress": "127.0.0.1:9", "probe": {"enabled": True,
                                                                            "timeoutSeconds": 1},
                                 **overrides})
        elector = LeaseElector(LightkubeLeaseApi(source.client), NS, "raygate", "me")
        assert elector.try_acquire_or_renew() and elector.try_acquire_or_renew()
        r = Reconciler(Api(source), s)
        report = r.run_pass()
        assert report.errors == [] and report.exposed == 3, report
        if values["backend"] == "gateway-api":
            assert len(fake_api.objects("ListenerSet", "t")) == 3
        fake_api.patch("RayCluster", "t", "a", {"metadata": {"annotations": {"raygate.io/expose": None}}})
        r.run_pass()
        if values["backend"] == "gateway-api":
            assert len(fake_api.objects("ListenerSet", "t")) == 2
        for kind, name in (("RayCluster", "b"), ("RayService", "svc"), ("RayJob", "job")):
            stop = threading.Event()
            pokes: list[int] = []
            watcher = threading.Thread(target=lightkube_watch(source), args=(
                "ray.io/v1", kind, lambda: (pokes.append(1), stop.set()), stop))
            watcher.start()
            for i in range(100):  # a watch may start after a change: keep changing until seen
                if pokes:
                    break
                fake_api.patch(kind, "t", name, {"metadata": {"labels": {"x": str(i)}}})
                stop.wait(0.05)
            assert pokes, f"the {kind} watch saw no event"
            watcher.join(5)
        # The port records', routes' (and gateway nodes') watches, which keep the cache a
        # pass reads.
        cache = WatchCache()
        for w in Reconciler(Api(source), s, cache=cache).watched():
            if w.api_version == "ray.io/v1":
                continue  # watched above
            stop = threading.Event()
            threading.Thread(target=lightkube_watch(source, cache), daemon=True,
                             args=(w.api_version, w.kind, lambda: None, stop),
                             kwargs={"namespace": w.namespace, "labels": w.label_selector}
                             ).start()
            for _ in range(100):
                if fake_api.count("watch", w.kind):
                    break
                stop.wait(0.05)
            stop.set()
            assert cache.synced([w.kind]) and fake_api.count("watch", w.kind), w
    used = set()
    for rec in fake_api.requests:
        if rec.kind is None or rec.verb is None:
            continue  # discovery
        t = fake_api.type_of(rec.kind)
        m = re.search(r"/namespaces/([^/]+)/", rec.path)
        used.add((t.group, t.plural, rec.verb, m.group(1) if m else "*"))
    granted = _granted(render(values))

    def allowed(g: str, r: str, v: str, ns: str) -> bool:
        return (g, r, v, "*") in granted or (g, r, v, ns) in granted

    assert {u for u in used if not allowed(*u)} == set()
    # ...and nothing is granted that the operator never does (least privilege).
    exercised = {(g, r, v) for g, r, v, _ in used}
    assert {(g, r, v) for g, r, v, _ in granted} - exercised == set()
