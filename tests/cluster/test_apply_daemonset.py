"""``raygate apply`` over an ingress-nginx controller installed as a DaemonSet (the chart's
``controller.kind: DaemonSet`` with the host network, ingress_nginx.md §8), against the strict
fake API server through the real lightkube client.

The controller is the real chart 4.15.1 (tests/cluster/data/helm-ingress-nginx-daemonset.yaml,
rendered by scripts/render-helm-controller.py) with custom flags, written by Helm 3 (an update
by manager "helm") or Helm 4 (server-side apply as "helm"). The spec does not say the kind:
raygate reads it from the live cluster.
"""

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
from tests.cluster.test_apply import _spec_file
from tests.cluster.test_ownership import (HELM_FLAGS, apply, expected_tcp, install_ray_cluster,
                                          spec_file, tcp, write_as_helm)
from tests.fakeapi.server import FakeApiServer

HELM_DAEMONSET = Path(__file__).with_name("data") / "helm-ingress-nginx-daemonset.yaml"
DS = ("DaemonSet", world.CTRL_NS, world.CTRL)
RAYGATE_FLAGS = ["--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services",
                 "--report-node-internal-ip-address"]


def install_helm_daemonset(server: FakeApiServer, *, ssa: bool = False,
                           release: str = "ingress-nginx") -> None:
    """The chart's controller DaemonSet and ConfigMap as Helm writes them, rolled out on the one
    labelled node, plus the IngressClass, a gateway node and another team's tcp-services entry
    (as ``install_helm_controller``). ``release``: the Helm release name, which the chart puts
    into the selector (``app.kubernetes.io/instance``)."""
    text = HELM_DAEMONSET.read_text().replace("app.kubernetes.io/instance: ingress-nginx",
                                              f"app.kubernetes.io/instance: {release}")
    docs = [d for d in yaml.safe_load_all(text) if d and d["kind"] in ("DaemonSet", "ConfigMap")]
    for doc in docs:
        write_as_helm(server, doc, ssa=ssa)
    _rolled_out(server)
    if server.get("IngressClass", None, "nginx") is None:
        server.add({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                    "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
                   manager="helm")
    if server.get("Node", None, "node-1") is None:
        server.add(world.node("node-1", "192.168.1.33", **{"ingress-ready": "true"}))
    server.add({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "tcp-services", "namespace": world.CTRL_NS},
                "data": {"5432": "db/postgres:5432"}}, manager="kubectl-edit")


def _rolled_out(server: FakeApiServer) -> None:
    """What the DaemonSet controller reports once the one selected node runs the new pod."""
    ds = server.get(*DS)
    server.patch(*DS, {"status": {
        "observedGeneration": ds["metadata"]["generation"], "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1, "updatedNumberScheduled": 1, "numberReady": 1,
        "numberAvailable": 1, "numberMisscheduled": 0}})


def ds_args(server: FakeApiServer) -> list[str]:
    return server.get(*DS)["spec"]["template"]["spec"]["containers"][0]["args"]


@pytest.fixture
def helm_ds(fake_api: FakeApiServer) -> FakeApiServer:
    install_helm_daemonset(fake_api)
    return fake_api


# --------------------------------------------------------------------------- never clobber

@pytest.mark.parametrize("helm_ssa", [False, True], ids=["helm3-update", "helm4-apply"])
def test_helm_daemonset_keeps_its_flags(fake_api: FakeApiServer, tmp_path: Path,
                                        helm_ssa: bool) -> None:
    install_helm_daemonset(fake_api, ssa=helm_ssa)
    install_ray_cluster(fake_api, 1)
    chart_args = list(ds_args(fake_api))
    assert set(HELM_FLAGS) <= set(chart_args)
    # Not forced: the chart already runs it on the host network with the right DNS policy,
    # so raygate's fields agree with Helm's and nothing conflicts.
    report = apply(fake_api, spec_file(tmp_path, 1, extra=[]), force_conflicts=False)
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    [ds] = [c for c in report.changes if c.ref == "DaemonSet/ingress-nginx/ingress-nginx-controller"]
    assert (ds.action, ds.message) == ("configured", "controller args: adds "
                                       + "; adds ".join(RAYGATE_FLAGS))
    # Never a second controller beside the user's.
    assert fake_api.get("Deployment", world.CTRL_NS, world.CTRL) is None
    assert not any(c.ref.startswith("Deployment/") for c in report.changes)
    live = fake_api.get(*DS)
    assert ds_args(fake_api) == chart_args + RAYGATE_FLAGS
    pod = live["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "ingress-ready": "true"}
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    # DaemonSet semantics: no replicas or strategy; the defaulted rollout left as it was.
    assert "replicas" not in live["spec"] and "strategy" not in live["spec"]
    assert live["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert live["metadata"]["annotations"][apply_mod.FLAGS_PREFIX + "team-1.ray-1"] == \
        " ".join(RAYGATE_FLAGS)
    # Helm keeps what is Helm's: raygate's Apply entry holds neither args nor managed-by.
    entry = next(m for m in live["metadata"]["managedFields"]
                 if m["manager"] == "raygate/team-1.ray-1" and m["operation"] == "Apply")
    assert "f:args" not in str(entry["fieldsV1"])
    assert live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    again = apply(fake_api, spec_file(tmp_path, 1, extra=[]), force_conflicts=False)
    assert {c.action for c in again.changes} == {"unchanged"}
    # A helm upgrade that does not touch args keeps raygate's flags.
    fake_api.patch(*DS, {"spec": {"minReadySeconds": 5}})
    assert ds_args(fake_api) == chart_args + RAYGATE_FLAGS


def test_the_live_selector_is_repeated(fake_api: FakeApiServer, tmp_path: Path) -> None:
    """A release named "edge" selects ``app.kubernetes.io/instance: edge``, not the spec's
    default pod labels; the selector is immutable (a changed one is a 422 even when forced),
    so raygate repeats the live one and the apply goes through."""
    install_helm_daemonset(fake_api, release="edge")
    install_ray_cluster(fake_api, 1)
    before = fake_api.get(*DS)["spec"]["selector"]
    assert before["matchLabels"]["app.kubernetes.io/instance"] == "edge"
    report = apply(fake_api, spec_file(tmp_path, 1, extra=[]), force_conflicts=True)
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    assert fake_api.get(*DS)["spec"]["selector"] == before


def test_two_gateways_co_own_the_daemonsets_args(helm_ds: FakeApiServer, tmp_path: Path) -> None:
    server = helm_ds
    for i in (1, 2):
        install_ray_cluster(server, i)
    chart_args = list(ds_args(server))
    for i in (1, 2):
        report = apply(server, spec_file(tmp_path, i, extra=[]), force_conflicts=False)
        assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    # Each flag once, the chart's untouched; both gateways recorded what they need.
    assert ds_args(server) == chart_args + RAYGATE_FLAGS
    annotations = server.get(*DS)["metadata"]["annotations"]
    for i in (1, 2):
        assert annotations[apply_mod.FLAGS_PREFIX + f"team-{i}.ray-{i}"] == " ".join(RAYGATE_FLAGS)
    assert tcp(server) == {"5432": "db/postgres:5432", **expected_tcp(1, extra=[]),
                           **expected_tcp(2, extra=[])}
    # Re-applying either is a no-op and keeps the other's entries.
    again = apply(server, spec_file(tmp_path, 1, extra=[]), force_conflicts=False)
    assert {c.action for c in again.changes} == {"unchanged"}
    assert tcp(server)["20002"] == "team-2/ray-2-head-svc:10001"


def test_another_gateways_flag_on_the_daemonset_is_refused(helm_ds: FakeApiServer,
                                                           tmp_path: Path) -> None:
    server = helm_ds
    for i in (1, 2):
        install_ray_cluster(server, i)
    apply(server, spec_file(tmp_path, 1, extra=[]))
    data = yaml.safe_load(spec_file(tmp_path, 2, extra=[]).read_text())
    data["controller"] = {"tcpServicesConfigMap": "tcp-2"}
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    rv = server.resource_version
    with pytest.raises(apply_mod.ApplyRefused) as e:
        apply(server, other)
    assert server.resource_version == rv
    assert ("DaemonSet/ingress-nginx/ingress-nginx-controller: controller flag "
            "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services is needed by gateway "
            "team-1.ray-1") in str(e.value)


def test_prune_releases_the_daemonset_never_deletes_it(helm_ds: FakeApiServer,
                                                       tmp_path: Path) -> None:
    """A gateway that no longer renders the controller (say it moved to the gateway-api
    backend) releases the DaemonSet with --prune: its fields go, the DaemonSet and the chart's
    flags stay."""
    install_ray_cluster(helm_ds, 1)
    path = spec_file(tmp_path, 1, extra=[])
    apply(helm_ds, path, force_conflicts=False)
    spec = spec_mod.load(path)
    with ClusterSource(helm_ds.kubeconfig_path) as source:
        objects = [o for o in render.render(spec, cluster=apply_mod.load_live(source))
                   if o["kind"] != "DaemonSet"]
        report = apply_mod.apply_objects(source, objects, gateway=apply_mod.gateway_for(spec),
                                         prune=True)
    [ds] = [c for c in report.changes if c.ref == "DaemonSet/ingress-nginx/ingress-nginx-controller"]
    assert ds.action == "released" and "kept" in ds.message
    live = helm_ds.get(*DS)
    assert live is not None
    assert apply_mod.PRESENCE_PREFIX + "team-1.ray-1" not in live["metadata"]["labels"]
    assert set(HELM_FLAGS) <= set(ds_args(helm_ds))


# --------------------------------------------------------------------------- kind mismatch

def _with_kind(path: Path, kind: str) -> Path:
    data = yaml.safe_load(path.read_text())
    data.setdefault("controller", {})["kind"] = kind
    out = path.with_name(f"{kind}-{path.name}")
    out.write_text(yaml.safe_dump(data))
    return out


@pytest.mark.parametrize("controller, said, there", [
    ("DaemonSet", "Deployment", "DaemonSet"),
    ("Deployment", "DaemonSet", "Deployment"),
])
def test_a_spec_kind_the_cluster_contradicts_is_refused(
        fake_api: FakeApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        controller: str, said: str, there: str) -> None:
    if controller == "DaemonSet":
        install_helm_daemonset(fake_api)
    else:
        from tests.cluster.test_ownership import install_helm_controller
        install_helm_controller(fake_api)
    install_ray_cluster(fake_api, 1)
    path = _with_kind(spec_file(tmp_path, 1, extra=[]), said)
    rv = fake_api.resource_version
    for extra in (["--dry-run", "--diff"], []):
        with pytest.raises(SystemExit) as e:
            main(["apply", "-f", str(path), "--kubeconfig", fake_api.kubeconfig_path, "--no-wait",
                  "--force-conflicts", *extra])
        err = capsys.readouterr().err
        assert e.value.code == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert f"controller.kind is {said} but the controller is a {there} ({there} " \
               f"ingress-nginx/ingress-nginx-controller at cluster" in err
        assert f"set controller.kind: {there}" in err and "never creates a second one" in err
    assert fake_api.resource_version == rv  # nothing written
    assert fake_api.get(said, world.CTRL_NS, world.CTRL) is None


# --------------------------------------------------------------------------- diff, dry run, wait

def test_dry_run_diff_of_the_daemonset_shows_the_flags(helm_ds: FakeApiServer,
                                                       tmp_path: Path) -> None:
    install_ray_cluster(helm_ds, 1)
    path = spec_file(tmp_path, 1, extra=[])
    rv = helm_ds.resource_version
    preview = apply(helm_ds, path, dry_run=True, diff=True)
    assert helm_ds.resource_version == rv
    real = apply(helm_ds, path, diff=True)
    ref = "DaemonSet/ingress-nginx/ingress-nginx-controller"
    [before] = [c for c in preview.changes if c.ref == ref]
    [during] = [c for c in real.changes if c.ref == ref]
    assert before.diff == during.diff
    lines = during.diff.splitlines()
    assert "+        - --tcp-services-configmap=$(POD_NAMESPACE)/tcp-services" in lines
    assert "+        - --report-node-internal-ip-address" in lines
    assert "+        ingress-ready: 'true'" in lines  # merged into the chart's nodeSelector
    assert "         kubernetes.io/os: linux" in lines
    # Only additions: no flag, field or strategy of the chart's is removed or changed.
    assert not [line for line in lines if line.startswith("-") and not line.startswith("---")]
    assert not [line for line in lines if line.startswith("+") and "strategy" in line.lower()]


@pytest.fixture
def daemonset_world(fake_api: FakeApiServer) -> FakeApiServer:
    """The healthy world of tests/cluster/world.py with the controller installed by the chart
    as a DaemonSet instead of the upstream Deployment."""
    world.install(fake_api)
    fake_api.delete("Deployment", world.CTRL_NS, world.CTRL)
    fake_api.delete("ConfigMap", world.CTRL_NS, world.CTRL)
    install_helm_daemonset(fake_api)
    return fake_api


@pytest.fixture
def daemonset_controller(daemonset_world: FakeApiServer) -> Iterator[None]:
    """Plays the DaemonSet controller: on a new generation, the old pod is deleted first (the
    default maxUnavailable 1, maxSurge 0) and its replacement is reported available only after
    the rollout was read twice, so the wait is seen waiting."""
    server, stop = daemonset_world, threading.Event()

    def run() -> None:
        seen = server.get(*DS)["metadata"]["generation"]
        while not stop.wait(0.05):
            ds = server.get(*DS)
            if ds["metadata"]["generation"] == seen:
                continue
            seen = ds["metadata"]["generation"]
            server.patch(*DS, {"status": {"observedGeneration": seen, "updatedNumberScheduled": 0,
                                          "numberAvailable": 0, "numberReady": 0}})
            reads = server.count("get", "DaemonSet")
            while not stop.wait(0.05) and server.count("get", "DaemonSet") < reads + 2:
                pass
            _rolled_out(server)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(2)


def test_cli_apply_waits_for_the_daemonset_rollout(daemonset_world: FakeApiServer,
                                                   daemonset_controller: None, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = ["apply", "-f", str(_spec_file(tmp_path)), "--kubeconfig",
            daemonset_world.kubeconfig_path, "--timeout", "20"]
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 0, err
    assert "DaemonSet/ingress-nginx/ingress-nginx-controller configured: controller args: adds" in err
    rollout = "rollout of DaemonSet ingress-nginx/ingress-nginx-controller"
    assert f"raygate apply: waiting: {rollout} (0/1 pods updated)" in err
    assert f"raygate apply: ready: {rollout}" in err
    assert "doctor: 0 errors" in err
    assert daemonset_world.get("Deployment", world.CTRL_NS, world.CTRL) is None
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 0 and "raygate apply: 5 unchanged" in err, err


def test_a_daemonset_the_cluster_lacks_is_missing_never_created(fake_api: FakeApiServer,
                                                                 tmp_path: Path) -> None:
    """controller.kind: DaemonSet with no controller installed: a partial DaemonSet would be a
    broken controller, so it is reported, with what to do, and not created."""
    world.install(fake_api)
    fake_api.delete("Deployment", world.CTRL_NS, world.CTRL)
    report = apply(fake_api, _with_kind(_spec_file(tmp_path), "DaemonSet"))
    [missing] = [c for c in report.changes if c.ref.startswith("DaemonSet/")]
    assert missing.action == "missing"
    assert "install ingress-nginx first, or name the installed controller" in missing.message
    assert fake_api.get(*DS) is None
    assert fake_api.get("Deployment", world.CTRL_NS, world.CTRL) is None
