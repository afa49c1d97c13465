"""``raygate apply`` against the fake API server: SSA ownership, idempotency, prune, wait."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from raygate import apply as apply_mod
from raygate import render
from raygate import spec as spec_mod
from raygate.cli import main
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "raygate.yaml"
TCP = ("ConfigMap", world.CTRL_NS, "tcp-services")


def _spec_file(tmp_path: Path, **exposures: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["exposures"].update(exposures)
    path = tmp_path / "raygate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def cluster(fake_api: FakeApiServer) -> FakeApiServer:
    world.install(fake_api)
    # Another tool owns one tcp-services entry; raygate must never lose it.
    fake_api.add({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "tcp-services", "namespace": world.CTRL_NS},
                  "data": {"5432": "db/postgres:5432"}}, manager="helm")
    return fake_api


def _apply(server: FakeApiServer, spec_path: Path, **kw: Any) -> apply_mod.ApplyReport:
    spec = spec_mod.load(spec_path)
    with ClusterSource(server.kubeconfig_path) as source:
        objects = render.render(spec, cluster=apply_mod.load_live(source))
        return apply_mod.apply_objects(source, objects, gateway=apply_mod.gateway_id(spec), **kw)


def _actions(report: apply_mod.ApplyReport) -> dict[str, str]:
    return {c.ref: c.action for c in report.changes}


def test_apply_merges_tcp_services_and_rerun_is_a_noop(cluster: FakeApiServer, tmp_path: Path) -> None:
    spec = _spec_file(tmp_path)
    first = _apply(cluster, spec)
    actions = _actions(first)
    assert actions["ConfigMap/ingress-nginx/tcp-services"] == "configured"
    assert actions["Ingress/raycluster/ray-cluster-kuberay-dashboard"] == "created"
    # The controller's args belong to whoever installed it: a conflict, reported, not forced.
    deployment = next(c for c in first.changes if c.ref.startswith("Deployment/"))
    assert deployment.action == "conflict"
    assert 'conflict with "kubectl-client-side-apply"' in deployment.message
    assert "--force-conflicts" in deployment.message
    assert cluster.get("Deployment", world.CTRL_NS, world.CTRL)["spec"]["template"]["spec"].get(
        "hostNetwork") is None

    forced = _apply(cluster, spec, force_conflicts=True)
    assert _actions(forced)[deployment.ref] == "configured"
    live = cluster.get("Deployment", world.CTRL_NS, world.CTRL)
    pod = live["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["nodeSelector"] == {"ingress-ready": "true"}
    assert pod["containers"][0]["image"].endswith("v1.15.1")  # merged by name, not replaced
    assert "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services" in pod["containers"][0]["args"]

    tcp = cluster.get(*TCP)
    assert tcp["data"] == {"5432": "db/postgres:5432",
                           "9000": "raycluster/ray-cluster-kuberay-head-svc:9000",
                           "10001": "raycluster/ray-cluster-kuberay-head-svc:10001"}
    assert tcp["metadata"]["labels"][apply_mod.MANAGED_BY] == "raygate"
    owners = {m["manager"]: m["fieldsV1"] for m in tcp["metadata"]["managedFields"]}
    assert owners["helm"] == {"f:data": {"f:5432": {}}}

    rv_before = cluster.resource_version
    again = _apply(cluster, spec, force_conflicts=True)
    assert again.changed == [] and again.failed == []
    assert set(_actions(again).values()) == {"unchanged"}
    assert cluster.resource_version == rv_before  # nothing was written


def test_dropped_entries_go_and_foreign_entries_stay(cluster: FakeApiServer, tmp_path: Path) -> None:
    _apply(cluster, _spec_file(tmp_path), force_conflicts=True)
    report = _apply(cluster, _spec_file(tmp_path, extraTcpPorts=[]), force_conflicts=True)
    assert _actions(report)["ConfigMap/ingress-nginx/tcp-services"] == "configured"
    assert cluster.get(*TCP)["data"] == {
        "5432": "db/postgres:5432", "10001": "raycluster/ray-cluster-kuberay-head-svc:10001"}


def test_dry_run_and_diff_change_nothing(cluster: FakeApiServer, tmp_path: Path) -> None:
    rv = cluster.resource_version
    report = _apply(cluster, _spec_file(tmp_path), dry_run=True, diff=True)
    assert cluster.resource_version == rv
    assert cluster.get("Ingress", world.RAY_NS, "ray-cluster-kuberay-dashboard") is None
    tcp = next(c for c in report.changes if c.ref == "ConfigMap/ingress-nginx/tcp-services")
    assert tcp.action == "configured"
    assert "+  '10001': raycluster/ray-cluster-kuberay-head-svc:10001" in tcp.diff
    assert "   '5432': db/postgres:5432" in tcp.diff  # context line: kept
    created = next(c for c in report.changes if c.ref.endswith("ray-cluster-kuberay-dashboard"))
    assert created.action == "created" and created.diff.startswith("--- live/")


def test_patched_kinds_must_exist(fake_api: FakeApiServer, tmp_path: Path) -> None:
    world.install(fake_api)
    fake_api.delete("Deployment", world.CTRL_NS, world.CTRL)
    report = _apply(fake_api, _spec_file(tmp_path))
    missing = next(c for c in report.changes if c.ref.startswith("Deployment/"))
    assert missing.action == "missing" and "install ingress-nginx first" in missing.message
    assert fake_api.get("Deployment", world.CTRL_NS, world.CTRL) is None


def test_prune_deletes_only_what_raygate_alone_manages(cluster: FakeApiServer, tmp_path: Path) -> None:
    serve = {"path": "/serve"}
    _apply(cluster, _spec_file(tmp_path, serve=serve), force_conflicts=True)
    serve_ing = [i["metadata"]["name"] for i in cluster.objects("Ingress", world.RAY_NS)
                 if "serve" in i["metadata"]["name"]]
    assert serve_ing, "the spec with serve renders a Serve Ingress"
    # Someone else edits the redirect Ingress: it is no longer raygate's alone.
    gid = apply_mod.gateway_id(spec_mod.load(_spec_file(tmp_path)))
    cluster.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
        "name": "old-gateway-route", "namespace": world.RAY_NS, "labels": {
            apply_mod.MANAGED_BY: "raygate", apply_mod.GATEWAY_LABEL: gid}},
        "spec": {"ingressClassName": "nginx"}}, manager="kubectl-edit")
    report = _apply(cluster, _spec_file(tmp_path, serve=None), prune=True, force_conflicts=True)
    actions = _actions(report)
    assert all(actions[f"Ingress/{world.RAY_NS}/{n}"] == "pruned" for n in serve_ing)
    assert cluster.get("Ingress", world.RAY_NS, serve_ing[0]) is None
    kept = next(c for c in report.changes if c.ref.endswith("old-gateway-route"))
    assert kept.action == "unchanged" and "kubectl-edit" in kept.message
    assert cluster.get("Ingress", world.RAY_NS, "old-gateway-route") is not None
    assert cluster.get("Ingress", world.RAY_NS, "ray-cluster-kuberay-dashboard") is not None


def test_wait_reports_missing_endpoints(cluster: FakeApiServer, tmp_path: Path) -> None:
    cluster.add(world.head_endpoints(ready=False))
    spec = spec_mod.load(_spec_file(tmp_path))
    with ClusterSource(cluster.kubeconfig_path) as source:
        objects = render.render(spec, cluster=apply_mod.load_live(source))
        missing = apply_mod.wait(source, apply_mod.wait_targets(objects), 0.3, interval=0.1)
    assert missing == [
        "endpoints of Service raycluster/ray-cluster-kuberay-head-svc (ports 10001, 8265, 9000): "
        "no ready endpoint for port 10001, 8265, 9000"]


@pytest.fixture
def controller_manager(cluster: FakeApiServer) -> Iterator[None]:
    """Plays kube-controller-manager: marks the controller Deployment rolled out."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.05):
            dep = cluster.get("Deployment", world.CTRL_NS, world.CTRL)
            if dep and dep["status"].get("observedGeneration") != dep["metadata"]["generation"]:
                cluster.patch("Deployment", world.CTRL_NS, world.CTRL, {"status": {
                    "observedGeneration": dep["metadata"]["generation"]}})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(2)


def test_cli_apply_waits_then_verifies_and_is_idempotent(
        cluster: FakeApiServer, controller_manager: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec_file(tmp_path)
    args = ["apply", "-f", str(spec), "--kubeconfig", cluster.kubeconfig_path, "--timeout", "10"]
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 1 and "conflict" in err  # the controller's args: not forced
    with pytest.raises(SystemExit) as e:
        main(args + ["--force-conflicts"])
    err = capsys.readouterr().err
    assert "Deployment/ingress-nginx/ingress-nginx-controller configured" in err
    assert "not ready" not in err
    assert e.value.code == 0, err
    with pytest.raises(SystemExit) as e:
        main(args + ["--force-conflicts"])
    err = capsys.readouterr().err
    assert e.value.code == 0
    assert "raygate apply: 5 unchanged" in err
    assert "doctor: 0 errors" in err


def test_cli_dry_run_diff_prints_to_stdout(cluster: FakeApiServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig", cluster.kubeconfig_path,
              "--dry-run", "--diff", "--force-conflicts"])
    out, err = capsys.readouterr()
    assert e.value.code == 0
    assert "+++ raygate/ConfigMap/ingress-nginx/tcp-services" in out
    assert "(server dry run)" in err
    assert cluster.get("Ingress", world.RAY_NS, "ray-cluster-kuberay-dashboard") is None


def test_cli_unreachable_cluster_is_exit_2(fake_api: FakeApiServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = fake_api.kubeconfig_path
    fake_api.stop()
    with pytest.raises(SystemExit) as e:
        main(["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig", kubeconfig])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("raygate: error: cannot reach the Kubernetes API") and "Traceback" not in err
