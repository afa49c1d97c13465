"""``raygate apply`` against the fake API server: SSA ownership, idempotency, prune, wait."""

from __future__ import annotations

import json
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
    created = [c for c in first.changes if c.action == "created"]
    assert created and [c.message for c in created] == [""] * len(created)
    assert actions["Ingress/raycluster/ray-cluster-kuberay-dashboard"] == "created"
    # The controller's args belong to whoever installed it: a conflict, reported, not forced.
    deployment = next(c for c in first.changes if c.ref.startswith("Deployment/"))
    assert deployment.action == "conflict"
    assert 'conflict with "kubectl-client-side-apply"' in deployment.message
    assert deployment.message.endswith(
        " (fields owned by another manager; re-run with --force-conflicts to take them over)")
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
    assert [c.message for c in again.changes] == [""] * len(again.changes)  # nothing to say
    # A dry run of the same spec previews no change either.
    preview = _apply(cluster, spec, force_conflicts=True, dry_run=True)
    assert set(_actions(preview).values()) == {"unchanged"}
    assert cluster.resource_version == rv_before


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
    assert (missing.action, missing.message) == ("missing", (
        f"Deployment/{world.CTRL_NS}/{world.CTRL} does not exist; raygate only patches it "
        "(install ingress-nginx first, or name the installed controller with "
        "controller.deployment in the spec)"))
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
    # One carrying this gateway's key, written by a tool and by raygate 0.1 for another
    # gateway (its label says which).
    shared = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
        "name": "handed-route", "namespace": world.RAY_NS, "labels": {
            apply_mod.PRESENCE_PREFIX + gid: "", apply_mod.GATEWAY_LABEL: "team-x.other"}},
        "spec": {"ingressClassName": "nginx"}}
    cluster.add(shared, manager="raygate")
    shared["metadata"]["annotations"] = {"team": "x"}
    cluster.add(shared, manager="helm")
    report = _apply(cluster, _spec_file(tmp_path, serve=None), prune=True, force_conflicts=True)
    actions = _actions(report)
    assert all(actions[f"Ingress/{world.RAY_NS}/{n}"] == "pruned" for n in serve_ing)
    assert cluster.get("Ingress", world.RAY_NS, serve_ing[0]) is None
    kept = next(c for c in report.changes if c.ref.endswith("old-gateway-route"))
    assert (kept.action, kept.message) == ("unchanged", "not pruned: also managed by kubectl-edit")
    assert cluster.get("Ingress", world.RAY_NS, "old-gateway-route") is not None
    handed = next(c for c in report.changes if c.ref.endswith("handed-route"))
    assert (handed.action, handed.message) == ("unchanged", (
        "not pruned: also managed by helm, gateway team-x.other (applied by raygate 0.1)"))
    assert cluster.get("Ingress", world.RAY_NS, "handed-route") is not None
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


def test_objects_another_tool_manages_keep_its_managed_by_label(
        fake_api: FakeApiServer, tmp_path: Path) -> None:
    """ingress-nginx installed by Helm: its objects say managed-by Helm. raygate must merge
    its fields without fighting over that label (a conflict on every run, and forcing it
    breaks `helm upgrade`), and --prune must never see those objects as raygate's."""
    world.install(fake_api)
    helm = {apply_mod.MANAGED_BY: "Helm"}
    for kind, name in (("Deployment", world.CTRL), ("ConfigMap", world.CTRL)):
        obj = fake_api.get(kind, world.CTRL_NS, name)
        obj["metadata"]["labels"].update(helm)
        obj["metadata"].pop("managedFields")
        fake_api.add(obj, manager="helm")
    fake_api.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "tcp-services", "namespace": world.CTRL_NS, "labels": dict(helm)},
        "data": {"5432": "db/postgres:5432"}}, manager="helm")

    report = _apply(fake_api, _spec_file(tmp_path))
    actions = _actions(report)
    assert actions["ConfigMap/ingress-nginx/tcp-services"] == "configured"
    assert actions["ConfigMap/ingress-nginx/ingress-nginx-controller"] == "configured"
    deployment = next(c for c in report.changes if c.ref.startswith("Deployment/"))
    assert deployment.action == "conflict" and "managed-by" not in deployment.message

    report = _apply(fake_api, _spec_file(tmp_path), force_conflicts=True, prune=True)
    assert not report.failed and not [c for c in report.changes if c.action == "pruned"]
    for kind, name in (("Deployment", world.CTRL), ("ConfigMap", world.CTRL),
                       ("ConfigMap", "tcp-services")):
        labels = fake_api.get(kind, world.CTRL_NS, name)["metadata"]["labels"]
        assert labels[apply_mod.MANAGED_BY] == "Helm", (kind, name)
    assert fake_api.get(*TCP)["data"]["5432"] == "db/postgres:5432"
    # What raygate creates is labelled as raygate's.
    ingress = fake_api.get("Ingress", world.RAY_NS, "ray-cluster-kuberay-dashboard")
    assert ingress["metadata"]["labels"][apply_mod.MANAGED_BY] == "raygate"
    again = _apply(fake_api, _spec_file(tmp_path), force_conflicts=True)
    assert set(_actions(again).values()) == {"unchanged"}


def test_patched_workloads_are_not_claimed(cluster: FakeApiServer, tmp_path: Path) -> None:
    """raygate patches the controller Deployment, it does not manage it."""
    _apply(cluster, _spec_file(tmp_path), force_conflicts=True)
    labels = cluster.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"]["labels"]
    assert apply_mod.MANAGED_BY not in labels
    # A shared object carries each gateway's own key, not the one-value gateway label.
    gid = apply_mod.gateway_id(spec_mod.load(_spec_file(tmp_path)))
    assert apply_mod.GATEWAY_LABEL not in labels
    assert labels[apply_mod.PRESENCE_PREFIX + gid] == ""


def test_cli_timed_out_wait_still_names_the_root_cause(
        cluster: FakeApiServer, controller_manager: None, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The head is not ready: the wait times out, and doctor says why (not just "not ready")."""
    cluster.add(world.head_endpoints(ready=False))
    pod = world.head_pod()
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    pod["status"]["containerStatuses"] = [{"name": "ray-head", "ready": False, "state": {
        "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]
    cluster.add(pod)
    with pytest.raises(SystemExit) as e:
        main(["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig", cluster.kubeconfig_path,
              "--timeout", "0.5", "--force-conflicts"])
    err = capsys.readouterr().err
    assert e.value.code == 1
    # Progress without a terminal: one plain line per state change.
    assert ("raygate apply: waiting: endpoints of Service raycluster/ray-cluster-kuberay-head-svc"
            in err)
    assert "raygate apply: not ready after 0.5s: endpoints of Service" in err
    assert "doctor: RG251 tcp-service-without-endpoints" in err
    assert "head not ready" in err and "CrashLoopBackOff" in err


def test_cli_negative_timeout_is_a_usage_error(cluster: FakeApiServer, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig", cluster.kubeconfig_path,
              "--timeout", "-1"])
    assert e.value.code == 2 and "--timeout" in capsys.readouterr().err


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    out, err = capsys.readouterr()
    return int(e.value.code), out, err


def test_cli_worked_yesterday_not_today(cluster: FakeApiServer, controller_manager: None,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The guide's scenario as a user runs it: `raygate apply`, then `raygate doctor`, through
    the real renderer, the webhook (admission hook) and the CLI's exit codes."""
    from tests.fakeapi.admission import PREFIX, ingress_nginx_admission

    cluster.admission = ingress_nginx_admission(cluster)
    kube = ["--kubeconfig", cluster.kubeconfig_path]
    apply = ["apply", "-f", str(_spec_file(tmp_path)), *kube, "--timeout", "10"]
    old_ip, new_ip = "192.168.1.33", "192.168.1.53"
    dashboard = "ray-cluster-kuberay-dashboard"

    # Yesterday: applied, verified, and doctor is clean for the address users were given.
    code, _, err = _cli([*apply, "--force-conflicts"], capsys)
    assert code == 0 and "doctor: 0 errors" in err, err
    code, _, err = _cli(["doctor", *kube, "--expect-ip", old_ip], capsys)
    assert code == 0, err

    # Overnight: the gateway node's IP changes, the head pod is rescheduled (not ready yet),
    # and someone adds a snippet with kubectl while the webhook was off.
    cluster.patch("Node", None, "node-1", {"status": {"addresses": [
        {"type": "InternalIP", "address": new_ip}]}})
    cluster.delete("Pod", world.RAY_NS, "ray-head-0")
    head = world.head_pod()
    head["metadata"]["name"] = "ray-head-1"
    head["status"] = {"phase": "Running", "podIP": "10.244.2.9", "conditions": [
        {"type": "Ready", "status": "False"}], "containerStatuses": [
        {"name": "ray-head", "ready": False, "state": {"running": {}}}]}
    cluster.add(head)
    cluster.add(world.head_endpoints(ready=False, ip="10.244.2.9"))
    snippet = "nginx.ingress.kubernetes.io/configuration-snippet"
    admission, cluster.admission = cluster.admission, None
    live = cluster.get("Ingress", world.RAY_NS, dashboard)
    live["metadata"]["annotations"][snippet] = "more_set_headers 'X: y';"
    cluster.add(live, manager="kubectl")
    cluster.admission = admission

    # Today: one command names each root cause.
    code, out, err = _cli(["doctor", *kube, "--expect-ip", old_ip, "-f", "json"], capsys)
    assert code == 1, err
    found: dict[str, list[dict]] = {}
    for f in json.loads(out)["findings"]:
        found.setdefault(f["rule"], []).append(f)
    (denied,) = found["RG151"]
    assert denied["symptom"].startswith(PREFIX + f"{snippet} annotation cannot be used")
    assert "Cause: RG101 snippet-annotation" in denied["message"]
    assert any("head not ready" in f["message"] and "ray-head-1" in f["message"]
               for f in found["RG251"])
    assert any(old_ip in f["message"] and new_ip in f["message"] for f in found["RG353"])
    assert any("ray-head-1" in f["message"] for f in found["RG354"])

    # apply cannot take kubectl's snippet away (SSA never removes another manager's field),
    # and the webhook refuses even the unchanged Ingress: the denial is reported, exit 1.
    code, _, err = _cli(apply, capsys)
    assert code == 1
    assert f"Ingress/{world.RAY_NS}/{dashboard} denied: {PREFIX}" in err
    # The user removes the snippet as doctor said; the cluster heals the head (KubeRay) and
    # users are given the new address. apply restores what is raygate's, doctor passes.
    cluster.patch("Ingress", world.RAY_NS, dashboard, {"metadata": {"annotations": {snippet: None}}})
    head["status"] = world.head_pod()["status"] | {"podIP": "10.244.2.9"}
    cluster.add(head)
    cluster.add(world.head_endpoints(ip="10.244.2.9"))
    code, _, err = _cli(apply, capsys)
    assert code == 0 and "doctor: 0 errors" in err, err
    code, _, err = _cli(["doctor", *kube, "--expect-ip", new_ip], capsys)
    assert code == 0, err
    code, _, err = _cli(apply, capsys)
    assert code == 0 and "raygate apply: 5 unchanged" in err


def test_cli_apply_takes_cluster_manifests_like_render(cluster: FakeApiServer, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """--cluster-manifest lays the given objects over the live ones, as render reads them:
    the live RayCluster has token auth, the manifest (what is about to be deployed) does not,
    so the apply is refused before anything is sent."""
    unauthenticated = world.raycluster()
    del unauthenticated["spec"]["authOptions"]
    manifest = tmp_path / "ray-cluster.yaml"
    manifest.write_text(yaml.safe_dump(unauthenticated))
    base = ["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig", cluster.kubeconfig_path,
            "--dry-run", "--force-conflicts"]
    with pytest.raises(SystemExit) as e:
        main(base)
    assert e.value.code == 0, capsys.readouterr().err
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(base + ["--cluster-manifest", str(manifest)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "token auth" in err
