"""Opt-in: the same checks against a real cluster (kind/k3d with ingress-nginx and KubeRay).

Runs only when RAYGATE_E2E_KUBECONFIG points at such a cluster; scripts/e2e-cluster.sh sets
one up where Docker exists. Nothing here is faked: a real API server, the real ingress-nginx
admission webhook, real server-side apply.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import yaml

from raygate import apply as apply_mod
from raygate import render
from raygate import spec as spec_mod
from raygate.doctor import core
from raygate.findings import Severity
from raygate.sources.cluster import MAX_REQUESTS, ClusterSource

KUBECONFIG = os.environ.get("RAYGATE_E2E_KUBECONFIG")
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not KUBECONFIG, reason=(
        "set RAYGATE_E2E_KUBECONFIG to a kind/k3d cluster with ingress-nginx and KubeRay "
        "(see scripts/e2e-cluster.sh)")),
]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "raygate.yaml"


def test_load_is_bounded_and_finds_the_controller() -> None:
    with ClusterSource(KUBECONFIG) as source:
        result = source.load()
        assert source.request_count <= MAX_REQUESTS
    kinds = {o.kind for o in result.objects}
    assert {"Node", "Deployment", "Service", "ConfigMap"} <= kinds
    assert any(o.kind == "Pod" and o.labels.get("app.kubernetes.io/name") == "ingress-nginx"
               for o in result.objects)


def test_real_webhook_denies_a_snippet_on_dry_run() -> None:
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "raygate-e2e-snippet", "namespace": "default", "annotations": {
                   "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers 'X: y';"}},
               "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                   "path": "/e2e", "pathType": "Prefix", "backend": {"service": {
                       "name": "kubernetes", "port": {"number": 443}}}}]}}]}}
    with ClusterSource(KUBECONFIG) as source:
        denial = source.dry_run(ingress)
    assert denial and 'admission webhook "validate.nginx.ingress.kubernetes.io" denied' in denial


def test_apply_dry_run_of_the_example() -> None:
    spec = spec_mod.load(EXAMPLE)
    with ClusterSource(KUBECONFIG) as source:
        objects = render.render(spec, cluster=apply_mod.load_live(source),
                                allow_unauthenticated=True)
        report = apply_mod.apply_objects(source, objects, gateway=apply_mod.gateway_for(spec),
                                         dry_run=True, diff=True)
    assert report.changes and all(c.action != "denied" for c in report.changes)


def _render(source: ClusterSource, spec) -> list[dict]:
    return render.render(spec, cluster=apply_mod.load_live(source), allow_unauthenticated=True)


def test_apply_waits_then_doctor_passes_and_reapply_is_a_noop() -> None:
    """The scenario's second half on a real API server: apply (taking over the controller
    fields the upstream manifest set), wait for the rollout and the endpoints, doctor finds
    no runtime error, and applying again changes nothing."""
    spec = spec_mod.load(EXAMPLE)
    gateway = apply_mod.gateway_for(spec)
    with ClusterSource(KUBECONFIG) as source:
        objects = _render(source, spec)
        first = apply_mod.apply_objects(source, objects, gateway=gateway, force_conflicts=True)
        assert not first.failed, [(c.ref, c.action, c.message) for c in first.failed]
        missing = apply_mod.wait(source, apply_mod.wait_targets(objects), 300, interval=2)
        assert missing == []
        again = apply_mod.apply_objects(source, _render(source, spec), gateway=gateway)
        assert again.changed == [] and again.failed == [], \
            [(c.ref, c.action, c.message) for c in again.changes]
    g = core.gather_live(kubeconfig=KUBECONFIG)
    d = core.diagnose(g)
    assert g.read_requests is not None and g.read_requests <= MAX_REQUESTS
    assert g.admission and all(v is None for v in g.admission.values()), g.admission
    runtime_errors = [f"{f.code} {f.object}: {f.message}" for f in d.result.findings
                      if f.rule.needs == "runtime" and f.severity is Severity.ERROR]
    assert runtime_errors == []
    assert not [v for v in d.result.not_checked.values() if "internal error" in v]
    assert d.lanes and all(lane.status != "fail" for lane in d.lanes), \
        [(lane.role, lane.route, lane.status) for lane in d.lanes]


# --------------------------------------------------------------------------- many gateways

def _spec_b(tmp_path: Path, **exposures) -> spec_mod.GatewaySpec:
    """The second team's gateway (RayCluster ray-b in raycluster-b, from e2e-cluster.sh)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["rayCluster"].update({"name": "ray-b", "namespace": "raycluster-b", "authMode": "disabled"})
    data["exposures"].update({"host": "ray-b.example.com", "extraTcpPorts": [],
                              "rayClient": {"enabled": True, "port": 10002}, **exposures})
    path = tmp_path / "ray-b.yaml"
    path.write_text(yaml.safe_dump(data))
    return spec_mod.load(path)


def _controller_args(source: ClusterSource) -> list[str]:
    res = source.resource_for({"apiVersion": "apps/v1", "kind": "Deployment"})
    dep = dict(source.client.get(res, "ingress-nginx-controller", namespace="ingress-nginx"))
    return dep["spec"]["template"]["spec"]["containers"][0]["args"]


def _tcp(source: ClusterSource) -> dict[str, str]:
    res = source.resource_for({"apiVersion": "v1", "kind": "ConfigMap"})
    return dict(source.client.get(res, "tcp-services", namespace="ingress-nginx")).get("data") or {}


def test_two_gateways_prune_and_the_helm_flags_survive(tmp_path: Path) -> None:
    """Two gateways behind the Helm-installed controller: both Ray Client ports present, the
    chart's flags kept, the same port refused, and pruning the second leaves the first."""
    a = spec_mod.load(EXAMPLE)
    b = _spec_b(tmp_path, serve={"path": "/serve"})
    with ClusterSource(KUBECONFIG) as source:
        chart_args = _controller_args(source)
        for spec in (a, b):
            report = apply_mod.apply_objects(source, _render(source, spec),
                                             gateway=apply_mod.gateway_for(spec),
                                             force_conflicts=True)
            assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
        tcp = _tcp(source)
        assert tcp["10001"].startswith("raycluster/") and tcp["10002"].startswith("raycluster-b/")
        live_args = _controller_args(source)
        assert all(flag in live_args for flag in chart_args), (chart_args, live_args)
        # The same external port for a third spec of team b: refused, nothing written.
        clash = _spec_b(tmp_path, rayClient={"enabled": True, "port": 10001})
        with pytest.raises(apply_mod.ApplyRefused):
            apply_mod.apply_objects(source, _render(source, clash),
                                    gateway=apply_mod.gateway_for(clash), force_conflicts=True)
        # Team b drops Serve and its client port, with --prune.
        slim = _spec_b(tmp_path, serve=None, rayClient={"enabled": False, "port": 10002})
        report = apply_mod.apply_objects(source, _render(source, slim),
                                         gateway=apply_mod.gateway_for(slim),
                                         force_conflicts=True, prune=True)
        assert not report.failed
        tcp = _tcp(source)
        assert "10002" not in tcp and tcp["10001"].startswith("raycluster/")
        assert all(flag in _controller_args(source) for flag in chart_args)
