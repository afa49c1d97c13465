"""Many Ray clusters behind one controller: per-gateway ownership against the strict fake API.

Each gateway is a RayCluster in its own namespace with its own raygate.yaml, all behind one
ingress-nginx controller installed by the real Helm chart (tests/cluster/data, rendered by
scripts/render-helm-controller.py) with custom flags. The tests go through the real renderer,
``raygate.apply`` and lightkube, as ``raygate apply`` does.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client, KubeConfig

from raygate import apply as apply_mod
from raygate import render
from raygate import spec as spec_mod
from raygate.cli import main
from raygate.sources.cluster import ClusterSource, resource_class
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer

HELM_CONTROLLER = Path(__file__).with_name("data") / "helm-ingress-nginx-controller.yaml"
HELM_FLAGS = ("--watch-ingress-without-class=true",
              "--default-ssl-certificate=ingress-nginx/wildcard-tls", "--enable-ssl-passthrough",
              "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller")
TCP = ("ConfigMap", world.CTRL_NS, "tcp-services")


# --------------------------------------------------------------------------- the cluster

def write_as_helm(server: FakeApiServer, doc: dict[str, Any], *, ssa: bool) -> None:
    """Write one chart object as Helm does: Helm 3 an update by manager "helm", Helm 4 a
    server-side apply as "helm"."""
    if not ssa:
        server.add(doc, manager="helm")
        return
    kube = Client(KubeConfig.from_file(server.kubeconfig_path), trust_env=False)
    # Not lightkube's create_namespaced_resource: it registers the class globally and
    # fails when a test run earlier in the process loaded the typed ConfigMap.
    group, _, version = doc["apiVersion"].rpartition("/")
    res = resource_class(group, version, doc["kind"], doc["kind"].lower() + "s", True)
    kube.apply(res(doc), field_manager="helm")
    kube.close()


def install_helm_controller(server: FakeApiServer, *, ssa: bool = False) -> None:
    """The chart's controller Deployment and ConfigMap, written by Helm (Helm 3: an update by
    manager "helm"; Helm 4: server-side apply as "helm"), plus what the rest of the chart and
    the cluster provide (IngressClass, a ready gateway node, another team's tcp entry)."""
    for doc in yaml.safe_load_all(HELM_CONTROLLER.read_text()):
        if doc:
            write_as_helm(server, doc, ssa=ssa)
    dep = server.get("Deployment", world.CTRL_NS, world.CTRL)
    server.patch("Deployment", world.CTRL_NS, world.CTRL, {"status": {
        "observedGeneration": dep["metadata"]["generation"], "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1}})
    server.add({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
               manager="helm")
    server.add(world.node("node-1", "192.168.1.33", **{"ingress-ready": "true"}))
    server.add({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "tcp-services", "namespace": world.CTRL_NS},
                "data": {"5432": "db/postgres:5432"}}, manager="kubectl-edit")


def install_ray_cluster(server: FakeApiServer, i: int) -> None:
    """RayCluster ``ray-<i>`` in namespace ``team-<i>`` with its head Service, ready."""
    ns, name = f"team-{i}", f"ray-{i}"
    svc = f"{name}-head-svc"
    ports = world.HEAD_PORTS
    server.add({"apiVersion": "ray.io/v1", "kind": "RayCluster",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"authOptions": {"mode": "token"}, "headGroupSpec": {"template": {"spec": {
                    "containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0", "ports": [
                        {"name": n, "containerPort": p} for n, p in ports.items()]}]}}}}})
    server.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": ns},
                "spec": {"selector": {"ray.io/cluster": name, "ray.io/node-type": "head"},
                         "ports": [{"name": n, "port": p} for n, p in ports.items()]}})


def spec_file(tmp_path: Path, i: int, *, client_port: int | None = None, extra: list[int] | None = None,
              serve: bool = False, stream_timeout: str = "3600s") -> Path:
    """Gateway ``i``'s raygate.yaml: its own host, Ray Client port and extra TCP ports."""
    data = {
        "apiVersion": "raygate.io/v1alpha1", "kind": "RayGateway",
        "rayCluster": {"name": f"ray-{i}", "namespace": f"team-{i}", "authMode": "token"},
        "exposures": {"host": f"ray-{i}.example.com",
                      "rayClient": {"enabled": True, "port": client_port or 20000 + i},
                      "extraTcpPorts": extra if extra is not None else [30000 + i],
                      "serve": {"path": "/serve"} if serve else None},
        "tuning": {"streamTimeout": stream_timeout},
    }
    path = tmp_path / f"gateway-{i}-{abs(hash((client_port, tuple(extra or []), serve, stream_timeout)))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def apply(server: FakeApiServer, path: Path, **kw: Any) -> apply_mod.ApplyReport:
    """``raygate apply --force-conflicts`` (the pinned placement takes dnsPolicy and the
    rollout strategy from the chart's values; what another *gateway* owns is never forced)."""
    kw.setdefault("force_conflicts", True)
    spec = spec_mod.load(path)
    with ClusterSource(server.kubeconfig_path) as source:
        objects = render.render(spec, cluster=apply_mod.load_live(source))
        return apply_mod.apply_objects(source, objects, gateway=apply_mod.gateway_for(spec), **kw)


def args(server: FakeApiServer) -> list[str]:
    dep = server.get("Deployment", world.CTRL_NS, world.CTRL)
    return dep["spec"]["template"]["spec"]["containers"][0]["args"]


def tcp(server: FakeApiServer) -> dict[str, str]:
    return (server.get(*TCP) or {}).get("data") or {}


def expected_tcp(i: int, client_port: int | None = None, extra: list[int] | None = None) -> dict[str, str]:
    target = f"team-{i}/ray-{i}-head-svc"
    out = {str(client_port or 20000 + i): f"{target}:10001"}
    for p in (extra if extra is not None else [30000 + i]):
        out[str(p)] = f"{target}:{p}"
    return out


@pytest.fixture
def helm_cluster(fake_api: FakeApiServer) -> FakeApiServer:
    install_helm_controller(fake_api)
    return fake_api


# --------------------------------------------------------------------------- two gateways

def test_two_gateways_share_tcp_services_entry_by_entry(helm_cluster: FakeApiServer,
                                                        tmp_path: Path) -> None:
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    # The extra ports must exist on the head Service for the renderer; use the Ray Client only.
    a, b = spec_file(tmp_path, 1, extra=[]), spec_file(tmp_path, 2, extra=[])
    first = apply(server, a)
    assert not first.failed, [(c.ref, c.action, c.message) for c in first.failed]
    second = apply(server, b)
    assert not second.failed, [(c.ref, c.action, c.message) for c in second.failed]
    assert tcp(server) == {"5432": "db/postgres:5432", **expected_tcp(1, extra=[]),
                           **expected_tcp(2, extra=[])}
    owners = {m["manager"]: m["fieldsV1"]["f:data"] for m in server.get(*TCP)["metadata"]["managedFields"]
              if "f:data" in m["fieldsV1"]}
    assert owners["raygate/team-1.ray-1"] == {"f:20001": {}}
    assert owners["raygate/team-2.ray-2"] == {"f:20002": {}}
    assert owners["kubectl-edit"] == {"f:5432": {}}
    # Re-applying the first gateway changes nothing, and keeps the second one's entry.
    again = apply(server, a)
    assert {c.action for c in again.changes} == {"unchanged"}, [(c.ref, c.action) for c in again.changes]
    assert tcp(server)["20002"] == "team-2/ray-2-head-svc:10001"
    # The Helm chart's flags are all still there, in their place; raygate's were added once.
    live = args(server)
    for flag in HELM_FLAGS:
        assert flag in live
    assert live.count("--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services") == 1
    labels = server.get(*TCP)["metadata"]["labels"]
    assert {apply_mod.PRESENCE_PREFIX + "team-1.ray-1", apply_mod.PRESENCE_PREFIX + "team-2.ray-2"} <= set(labels)
    assert apply_mod.GATEWAY_LABEL not in labels


def test_the_same_external_port_is_refused_before_anything_is_written(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    apply(server, spec_file(tmp_path, 1, client_port=10001, extra=[]))
    rv = server.resource_version
    with pytest.raises(apply_mod.ApplyRefused) as e:
        apply(server, spec_file(tmp_path, 2, client_port=10001, extra=[]))
    assert server.resource_version == rv  # nothing was written
    message = str(e.value)
    assert "nothing was written" in message
    assert ("ConfigMap/ingress-nginx/tcp-services: external port 10001 "
            "(= team-1/ray-1-head-svc:10001) is owned by gateway team-1.ray-1 "
            "(raygate/team-1.ray-1)") in message
    # Through the CLI: one line, exit 2, no traceback.
    path = spec_file(tmp_path, 2, client_port=10001, extra=[])
    with pytest.raises(SystemExit) as exit_:
        main(["apply", "-f", str(path), "--kubeconfig", server.kubeconfig_path, "--no-wait",
              "--force-conflicts"])
    assert exit_.value.code == 2
    assert server.resource_version == rv  # --force-conflicts never takes another gateway's port


def test_prune_deletes_only_what_this_gateway_alone_owns(helm_cluster: FakeApiServer,
                                                         tmp_path: Path) -> None:
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    apply(server, spec_file(tmp_path, 1, extra=[], serve=True))
    apply(server, spec_file(tmp_path, 2, extra=[], serve=True))
    serve_2 = [i["metadata"]["name"] for i in server.objects("Ingress", "team-2") if "serve" in i["metadata"]["name"]]
    assert serve_2
    # Gateway 2 drops Serve and its Ray Client port: its Serve Ingress goes, its entry goes.
    slim = spec_file(tmp_path, 2, extra=[], serve=False)
    data = yaml.safe_load(slim.read_text())
    data["exposures"]["rayClient"]["enabled"] = False
    slim.write_text(yaml.safe_dump(data))
    # A dry run first: the same actions, nothing written or deleted.
    rv = server.resource_version
    preview = apply(server, slim, prune=True, dry_run=True)
    assert server.resource_version == rv
    report = apply(server, slim, prune=True, diff=True)
    actions = {c.ref: c.action for c in report.changes}
    assert {c.ref: c.action for c in preview.changes} == actions
    assert [c.diff for c in preview.changes] == [""] * len(preview.changes)  # not asked for
    assert actions[f"Ingress/team-2/{serve_2[0]}"] == "pruned"
    [pruned] = [c for c in report.changes if c.ref == f"Ingress/team-2/{serve_2[0]}"]
    assert pruned.message == "no longer rendered"
    lines = pruned.diff.splitlines()  # the whole object goes
    assert lines[:2] == [f"--- live/{pruned.ref}", f"+++ raygate/{pruned.ref}"]
    assert f"-  name: {serve_2[0]}" in lines
    assert [line for line in lines[2:] if line.startswith(("+", " "))] == ["+{}"]
    assert server.get("Ingress", "team-2", serve_2[0]) is None
    # tcp-services is shared: released, never deleted; gateway 1's and Helm's entries stay.
    assert actions["ConfigMap/ingress-nginx/tcp-services"] == "released"
    assert tcp(server) == {"5432": "db/postgres:5432", **expected_tcp(1, extra=[])}
    assert apply_mod.PRESENCE_PREFIX + "team-2.ray-2" not in server.get(*TCP)["metadata"]["labels"]
    # Gateway 1's Serve Ingress and Dashboard are untouched.
    assert [i for i in server.objects("Ingress", "team-1") if "serve" in i["metadata"]["name"]]
    for flag in HELM_FLAGS:
        assert flag in args(server)


# --------------------------------------------------------------------------- migration from 0.1

def _apply_like_0_1(server: FakeApiServer, path: Path) -> None:
    """What raygate 0.1 did: every object applied by the one manager "raygate", forced over
    the controller's args, labelled managed-by raygate + raygate.io/gateway."""
    spec = spec_mod.load(path)
    with ClusterSource(server.kubeconfig_path) as source:
        objects = render.render(spec, cluster=apply_mod.load_live(source))
        for obj in objects:
            if obj["kind"] != "Node":
                labels = obj.setdefault("metadata", {}).setdefault("labels", {})
                labels[apply_mod.GATEWAY_LABEL] = apply_mod.gateway_id(spec)
                if obj["kind"] != "Deployment":
                    labels[apply_mod.MANAGED_BY] = "raygate"
            res = source.resource_for(obj)
            ns = obj["metadata"].get("namespace")
            source.client.apply(res(obj), field_manager="raygate", force=True,
                                **({"namespace": ns} if ns else {}))


def test_migration_from_0_1_loses_nothing(helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    a = spec_file(tmp_path, 1, extra=[], serve=True)
    _apply_like_0_1(server, a)
    before = dict(tcp(server))
    assert before["20001"] == "team-1/ray-1-head-svc:10001"
    legacy_args = list(args(server))

    # The new version applies gateway 2 first: gateway 1's port, written by 0.1, survives.
    report = apply(server, spec_file(tmp_path, 2, extra=[]))
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    assert tcp(server)["20001"] == "team-1/ray-1-head-svc:10001"
    assert tcp(server)["20002"] == "team-2/ray-2-head-svc:10001"
    assert all(a in args(server) for a in legacy_args)

    # Gateway 1 applied by the new version: 0.1's entry is handed over, nothing is lost.
    report = apply(server, a)
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    dashboard = server.get("Ingress", "team-1", "ray-1-dashboard")
    managers = {m["manager"] for m in dashboard["metadata"]["managedFields"]}
    assert managers == {"raygate/team-1.ray-1"}
    assert all(a in args(server) for a in legacy_args)
    assert tcp(server)["20001"] == "team-1/ray-1-head-svc:10001"
    assert tcp(server)["20002"] == "team-2/ray-2-head-svc:10001"
    # 0.1 labelled the shared tcp-services for gateway 1 only; that label is gone now.
    assert apply_mod.GATEWAY_LABEL not in server.get(*TCP)["metadata"]["labels"]

    # And gateway 1 now owns its entries alone: dropping its port removes it (0.1 no longer
    # co-owns it), and --prune deletes its Serve Ingress.
    slim = spec_file(tmp_path, 1, client_port=20011, extra=[])
    report = apply(server, slim, prune=True)
    assert not report.failed
    assert "20001" not in tcp(server) and tcp(server)["20011"] == "team-1/ray-1-head-svc:10001"
    assert not [i for i in server.objects("Ingress", "team-1") if "serve" in i["metadata"]["name"]]
    assert tcp(server)["20002"] == "team-2/ray-2-head-svc:10001"


# --------------------------------------------------------------------------- never clobber

@pytest.mark.parametrize("helm_ssa", [False, True], ids=["helm3-update", "helm4-apply"])
def test_helm_installed_controller_keeps_its_flags(fake_api: FakeApiServer, tmp_path: Path,
                                                   helm_ssa: bool) -> None:
    install_helm_controller(fake_api, ssa=helm_ssa)
    install_ray_cluster(fake_api, 1)
    chart_args = list(args(fake_api))
    report = apply(fake_api, spec_file(tmp_path, 1, extra=[]))
    dep = next(c for c in report.changes if c.ref.startswith("Deployment/"))
    assert "adds --tcp-services-configmap=$(POD_NAMESPACE)/tcp-services" in dep.message
    assert "adds --report-node-internal-ip-address" in dep.message
    live = args(fake_api)
    # Every flag of the chart kept, in its place; raygate's appended.
    assert live[:len(chart_args)] == chart_args
    assert live[len(chart_args):] == ["--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services",
                                      "--report-node-internal-ip-address"]
    annotations = fake_api.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"]["annotations"]
    assert annotations[apply_mod.FLAGS_PREFIX + "team-1.ray-1"] == (
        "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services --report-node-internal-ip-address")
    # Helm's other fields are Helm's: raygate's Apply entry does not hold args.
    entries = fake_api.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"]["managedFields"]
    applied = next(m for m in entries if m["manager"] == "raygate/team-1.ray-1" and m["operation"] == "Apply")
    assert "f:args" not in str(applied["fieldsV1"])
    # A second run is a no-op; so is a helm upgrade that does not touch args (merge patch of
    # other fields): the flags stay.
    again = apply(fake_api, spec_file(tmp_path, 1, extra=[]))
    assert {c.action for c in again.changes} == {"unchanged"}
    fake_api.patch("Deployment", world.CTRL_NS, world.CTRL, {"spec": {"minReadySeconds": 5}})
    assert args(fake_api) == live


# --------------------------------------------------------------------------- done when

@pytest.mark.parametrize("gateways", [2, 20])
def test_many_gateways_in_random_order_lose_nothing(fake_api: FakeApiServer, tmp_path: Path,
                                                    gateways: int) -> None:
    """Apply, re-apply and prune gateways in a seeded random order; after every step each
    applied gateway's entries, Ingresses and flags are all there, and so are Helm's flags and
    the other team's tcp entry."""
    install_helm_controller(fake_api)
    for i in range(1, gateways + 1):
        install_ray_cluster(fake_api, i)
    rng = random.Random(20261207 + gateways)
    # Each gateway has two shapes: with Serve and an extra TCP port (the head Service's 9000
    # on 30000 + i), and without either.
    state: dict[int, str] = {}
    steps = gateways * 3 if gateways < 10 else gateways * 2
    for _ in range(steps):
        i = rng.randint(1, gateways)
        shape = rng.choice(["full", "slim"])
        prune = rng.random() < 0.5
        report = apply(fake_api, _shape_file(tmp_path, i, shape), prune=prune)
        assert not report.failed, (i, shape, [(c.ref, c.action, c.message) for c in report.failed])
        state[i] = shape
        _check_all(fake_api, state)
    assert state  # something was applied


def _shape_file(tmp_path: Path, i: int, shape: str) -> Path:
    path = tmp_path / f"g{i}-{shape}.yaml"
    if not path.exists():
        data = {
            "apiVersion": "raygate.io/v1alpha1", "kind": "RayGateway",
            "rayCluster": {"name": f"ray-{i}", "namespace": f"team-{i}", "authMode": "token"},
            "exposures": {"host": f"ray-{i}.example.com",
                          "rayClient": {"enabled": True, "port": 20000 + i},
                          "extraTcpPorts": [{"port": 30000 + i, "servicePort": 9000}] if shape == "full" else [],
                          "serve": {"path": "/serve"} if shape == "full" else None}}
        path.write_text(yaml.safe_dump(data))
    return path


def _check_all(server: FakeApiServer, state: dict[int, str]) -> None:
    data = tcp(server)
    assert data.get("5432") == "db/postgres:5432"
    live = args(server)
    for flag in HELM_FLAGS:
        assert flag in live, flag
    assert "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services" in live
    for i, shape in state.items():
        target = f"team-{i}/ray-{i}-head-svc"
        assert data.get(str(20000 + i)) == f"{target}:10001", (i, data)
        ingresses = {o["metadata"]["name"] for o in server.objects("Ingress", f"team-{i}")}
        assert f"ray-{i}-dashboard" in ingresses, (i, ingresses)
        if shape == "full":
            assert data.get(str(30000 + i)) == f"{target}:9000", (i, data)
            assert any("serve" in n for n in ingresses), (i, ingresses)
    # Nothing of a gateway that was never applied, and no entry nobody renders.
    known = {"5432"} | {str(20000 + i) for i in state} | {str(30000 + i) for i in state}
    assert set(data) <= known, set(data) - known


def test_releasing_a_0_1_shared_object_removes_only_that_gateways_entries(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    _apply_like_0_1(server, spec_file(tmp_path, 1, extra=[]))
    apply(server, spec_file(tmp_path, 2, extra=[]))
    assert set(tcp(server)) == {"5432", "20001", "20002"}
    chart_args = list(args(server))
    # Gateway 1 no longer exposes any TCP port: tcp-services is not rendered for it; --prune
    # releases it, removing the entry 0.1 wrote for gateway 1 and nothing else.
    slim = spec_file(tmp_path, 1, extra=[])
    data = yaml.safe_load(slim.read_text())
    data["exposures"]["rayClient"]["enabled"] = False
    slim.write_text(yaml.safe_dump(data))
    report = apply(server, slim, prune=True, diff=True)
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    [released] = [c for c in report.changes if c.ref == "ConfigMap/ingress-nginx/tcp-services"]
    assert released.action == "released"
    assert tcp(server) == {"5432": "db/postgres:5432", "20002": "team-2/ray-2-head-svc:10001"}
    # The diff is against the object as it was: only gateway 1's entry (and its marks) go.
    lines = released.diff.splitlines()
    assert lines[:2] == [f"--- live/{released.ref}", f"+++ raygate/{released.ref}"]
    assert "-  '20001': team-1/ray-1-head-svc:10001" in lines
    assert "   '20002': team-2/ray-2-head-svc:10001" in lines
    assert not [line for line in lines if line.startswith("+") and not line.startswith("+++")]
    assert args(server) == chart_args  # the args 0.1 forced stay: raygate never removes a flag


def test_diff_of_the_controller_shows_the_flags_apply_sets(helm_cluster: FakeApiServer,
                                                          tmp_path: Path) -> None:
    """``--diff`` shows the flags the guarded args patch sets (they are not in the applied
    patch), the same before (``--dry-run --diff``) as during the real apply. A sidecar with
    args of its own gets none of them."""
    dep = helm_cluster.get("Deployment", world.CTRL_NS, world.CTRL)
    dep["spec"]["template"]["spec"]["containers"].append(
        {"name": "metrics", "image": "example.io/metrics:1", "args": ["--port=9913"]})
    dep["metadata"].pop("managedFields")
    helm_cluster.add(dep, manager="helm")
    install_ray_cluster(helm_cluster, 1)
    path = spec_file(tmp_path, 1, extra=[])
    rv = helm_cluster.resource_version
    preview = apply(helm_cluster, path, dry_run=True, diff=True)
    assert helm_cluster.resource_version == rv
    real = apply(helm_cluster, path, diff=True)
    ref = f"Deployment/{world.CTRL_NS}/{world.CTRL}"
    [before] = [c for c in preview.changes if c.ref == ref]
    [during] = [c for c in real.changes if c.ref == ref]
    assert during.diff == before.diff
    lines = during.diff.splitlines()
    assert "+        - --tcp-services-configmap=$(POD_NAMESPACE)/tcp-services" in lines
    assert "+        - --report-node-internal-ip-address" in lines
    assert len([line for line in lines if line.endswith("- --report-node-internal-ip-address")]) == 1
    assert "         - --enable-ssl-passthrough" in lines  # the chart's flag: context, kept
    assert not [line for line in lines if line.startswith("-        - --")]  # no flag removed
    assert during.message == ("controller args: adds --tcp-services-configmap=$(POD_NAMESPACE)/"
                              "tcp-services; adds --report-node-internal-ip-address")


def test_prune_deletes_what_0_1_wrote_for_this_gateway_alone(helm_cluster: FakeApiServer,
                                                             tmp_path: Path) -> None:
    """An object raygate 0.1 wrote for this gateway, never applied since, is this gateway's
    alone: ``--prune`` deletes it (0.1's manager is this gateway's, not another owner)."""
    # MetalLB is not installed: --prune skips its kinds (no LIST of an unserved group).
    helm_cluster.disable_group("metallb.io")
    install_ray_cluster(helm_cluster, 1)
    _apply_like_0_1(helm_cluster, spec_file(tmp_path, 1, extra=[], serve=True))
    [serve] = [i["metadata"]["name"] for i in helm_cluster.objects("Ingress", "team-1")
               if "serve" in i["metadata"]["name"]]
    report = apply(helm_cluster, spec_file(tmp_path, 1, extra=[], serve=False), prune=True)
    [change] = [c for c in report.changes if c.ref == f"Ingress/team-1/{serve}"]
    assert (change.action, change.message) == ("pruned", "no longer rendered")
    assert helm_cluster.get("Ingress", "team-1", serve) is None
    assert helm_cluster.get("Ingress", "team-1", "ray-1-dashboard") is not None


def test_release_names_the_0_1_gateway_that_still_owns_entries(helm_cluster: FakeApiServer,
                                                               tmp_path: Path) -> None:
    """Gateway 2 releases tcp-services; raygate 0.1's entry there is gateway 1's (its label
    says so), never this gateway's: it stays, and the message says whose it is."""
    for i in (1, 2):
        install_ray_cluster(helm_cluster, i)
    _apply_like_0_1(helm_cluster, spec_file(tmp_path, 1, extra=[]))
    apply(helm_cluster, spec_file(tmp_path, 2, extra=[]))
    slim = spec_file(tmp_path, 2, extra=[])
    data = yaml.safe_load(slim.read_text())
    data["exposures"]["rayClient"]["enabled"] = False
    slim.write_text(yaml.safe_dump(data))
    report = apply(helm_cluster, slim, prune=True)
    [change] = [c for c in report.changes if c.ref == "ConfigMap/ingress-nginx/tcp-services"]
    assert change.action == "released"
    assert change.message == ("no longer rendered; kept for kubectl-edit, gateway team-1.ray-1 "
                              "(applied by raygate 0.1)")
    assert tcp(helm_cluster) == {"5432": "db/postgres:5432", "20001": "team-1/ray-1-head-svc:10001"}


def test_a_controller_only_this_gateway_writes_is_released_never_deleted(
        fake_api: FakeApiServer) -> None:
    """The controller workload is patched, never raygate's to delete: even when no other
    manager owns a field of it (its managedFields were cleared), ``--prune`` releases it."""
    fake_api.add(world.controller_deployment())
    assert not fake_api.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"].get("managedFields")
    gw = apply_mod.Gateway.named("team-1.ray-1")
    patch = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": world.CTRL, "namespace": world.CTRL_NS},
             "spec": {"template": {"spec": {"hostNetwork": True}}}}
    with ClusterSource(fake_api.kubeconfig_path) as source:
        first = apply_mod.apply_objects(source, [patch], gateway=gw)
        assert [c.action for c in first.changes] == ["configured"]
        writers = {m["manager"] for m in fake_api.get("Deployment", world.CTRL_NS, world.CTRL)[
            "metadata"]["managedFields"]}
        assert writers == {gw.manager}
        report = apply_mod.apply_objects(source, [], gateway=gw, prune=True)
    ref = f"Deployment/{world.CTRL_NS}/{world.CTRL}"
    assert [(c.ref, c.action, c.message) for c in report.changes] == [
        (ref, "released", "no longer rendered; kept: raygate only patches a Deployment")]
    live = fake_api.get("Deployment", world.CTRL_NS, world.CTRL)
    assert live is not None
    assert "hostNetwork" not in live["spec"]["template"]["spec"]  # only this gateway set it
    assert live["spec"]["template"]["spec"]["containers"][0]["name"] == "controller"


def test_another_gateways_controller_flag_is_refused(helm_cluster: FakeApiServer,
                                                     tmp_path: Path) -> None:
    """Gateway 2 wants the controller to read another tcp-services map: the flag has one
    value, gateway 1 needs it, so the apply is refused before anything is written, naming
    the flag each needs (an args entry has no field owner to conflict on)."""
    for i in (1, 2):
        install_ray_cluster(helm_cluster, i)
    apply(helm_cluster, spec_file(tmp_path, 1, extra=[]))
    other = spec_file(tmp_path, 2, extra=[])
    data = yaml.safe_load(other.read_text())
    data["controller"] = {"tcpServicesConfigMap": "tcp-services-2"}
    other.write_text(yaml.safe_dump(data))
    rv = helm_cluster.resource_version
    with pytest.raises(apply_mod.ApplyRefused) as e:
        apply(helm_cluster, other)
    assert helm_cluster.resource_version == rv
    assert str(e.value) == (
        "refused, nothing was written: Deployment/ingress-nginx/ingress-nginx-controller: "
        "controller flag --tcp-services-configmap=$(POD_NAMESPACE)/tcp-services is needed by "
        "gateway team-1.ray-1; this gateway needs "
        "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services-2 (give this gateway another "
        "port or value, or remove the other gateway first)")


RAYGATE_FLAGS = ["--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services",
                 "--report-node-internal-ip-address"]


def test_a_controller_without_the_named_container_is_reported(helm_cluster: FakeApiServer,
                                                              tmp_path: Path) -> None:
    install_ray_cluster(helm_cluster, 1)
    path = spec_file(tmp_path, 1, extra=[])
    data = yaml.safe_load(path.read_text())
    data["controller"] = {"container": "nginx"}
    path.write_text(yaml.safe_dump(data))
    before = helm_cluster.get("Deployment", world.CTRL_NS, world.CTRL)["spec"]["template"]["spec"]
    report = apply(helm_cluster, path)
    [dep] = [c for c in report.failed if c.ref.startswith("Deployment/")]
    assert (dep.action, dep.message) == ("conflict", "the controller has no container 'nginx'; "
                                         "set controller.container in the spec")
    after = helm_cluster.get("Deployment", world.CTRL_NS, world.CTRL)["spec"]["template"]["spec"]
    assert after["containers"] == before["containers"]  # no container added, no args changed


def test_flags_go_into_a_container_that_has_no_args(helm_cluster: FakeApiServer,
                                                    tmp_path: Path) -> None:
    """A controller started by ``command`` alone gets an ``args`` list with raygate's flags."""
    dep = helm_cluster.get("Deployment", world.CTRL_NS, world.CTRL)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["command"] = container.pop("args")
    dep["metadata"].pop("managedFields")
    helm_cluster.add(dep, manager="helm")
    install_ray_cluster(helm_cluster, 1)
    report = apply(helm_cluster, spec_file(tmp_path, 1, extra=[]))
    assert not report.failed, [(c.ref, c.message) for c in report.failed]
    live = helm_cluster.get("Deployment", world.CTRL_NS, world.CTRL)["spec"]["template"]["spec"]
    assert live["containers"][0]["args"] == RAYGATE_FLAGS
    assert live["containers"][0]["command"] == container["command"]


@pytest.mark.parametrize("failures", [1, apply_mod.ARGS_RETRIES])
def test_the_guarded_args_patch_is_retried_when_the_args_change(
        helm_cluster: FakeApiServer, tmp_path: Path, failures: int) -> None:
    """The JSON patch of the flags is guarded by ``test`` operations; when the args changed
    meanwhile (the fake answers a failed ``test`` with 422, as a real server does), apply
    reads the controller again and retries, up to ARGS_RETRIES times, then says so."""
    install_ray_cluster(helm_cluster, 1)
    chart_args = list(args(helm_cluster))
    # The controller's PATCHes in one apply: the dry run, the apply, then the flags.
    helm_cluster.inject(422, verb="patch", kind="Deployment", name=world.CTRL, after=2,
                        times=failures, reason="Invalid",
                        message="test failed at /spec/template/spec/containers/0/args")
    n = helm_cluster.count(verb="patch", kind="Deployment")
    report = apply(helm_cluster, spec_file(tmp_path, 1, extra=[]))
    [dep] = [c for c in report.changes if c.ref.startswith("Deployment/")]
    done = failures < apply_mod.ARGS_RETRIES
    assert helm_cluster.count(verb="patch", kind="Deployment") - n == 2 + failures + done
    if done:
        assert dep.action == "configured"
        assert args(helm_cluster) == chart_args + RAYGATE_FLAGS
    else:
        assert (dep.action, dep.message) == ("conflict", (
            "the controller's args kept changing while raygate set its flags "
            f"({', '.join(RAYGATE_FLAGS)}); re-run apply"))
        assert args(helm_cluster) == chart_args


@pytest.mark.parametrize("code, message, outcome", [
    # The object changed meanwhile (resourceVersion): read again and retry.
    (409, None, "configured"),
    # Any other failure of the flags patch stops the apply, naming it.
    (500, None, "error"),
    (422, 'Deployment.apps "ingress-nginx-controller" is invalid: spec.template.spec.containers[0]'
          '.args: Invalid value', "error"),
])
def test_the_flags_patch_retries_only_when_the_object_changed(
        helm_cluster: FakeApiServer, tmp_path: Path, code: int, message: str | None,
        outcome: str) -> None:
    install_ray_cluster(helm_cluster, 1)
    # The controller's PATCHes in one apply: the dry run, the apply, then the flags.
    helm_cluster.inject(code, verb="patch", kind="Deployment", name=world.CTRL, after=2,
                        message=message)
    if outcome == "configured":
        report = apply(helm_cluster, spec_file(tmp_path, 1, extra=[]))
        [dep] = [c for c in report.changes if c.ref.startswith("Deployment/")]
        assert dep.action == "configured"
        assert args(helm_cluster)[-2:] == RAYGATE_FLAGS
        # The flags patch is this gateway's write (an Update entry owning the args).
        entries = helm_cluster.get("Deployment", world.CTRL_NS, world.CTRL)["metadata"]["managedFields"]
        assert any(m["manager"] == "raygate/team-1.ray-1" and m["operation"] == "Update"
                   and "f:args" in str(m["fieldsV1"]) for m in entries)
        return
    with pytest.raises(apply_mod.ApplyInterrupted) as e:
        apply(helm_cluster, spec_file(tmp_path, 1, extra=[]))
    assert f"set flags of Deployment/{world.CTRL_NS}/{world.CTRL}: {code} " in str(e.value)
    assert "apply stopped after writing" in str(e.value)


def test_a_0_1_object_whose_values_changed_is_handed_over_without_forcing(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    """Upgrading raygate and changing a setting in one go: 0.1's manager still owns the old
    value, and the hand-over (not the user's --force-conflicts) is what lets the new value in:
    no conflict with raygate's own former self."""
    server = helm_cluster
    install_ray_cluster(server, 1)
    old = spec_file(tmp_path, 1, extra=[])
    _apply_like_0_1(server, old)
    new = tmp_path / "gateway-1-new.yaml"
    data = yaml.safe_load(old.read_text())
    data["tuning"]["readTimeout"] = 1800
    new.write_text(yaml.safe_dump(data))
    report = apply(server, new, force_conflicts=False)
    ingresses = [c for c in report.changes if c.ref.startswith("Ingress/")]
    assert ingresses and all(c.action == "configured" for c in ingresses), \
        [(c.ref, c.action, c.message) for c in ingresses]
    dashboard = server.get("Ingress", "team-1", "ray-1-dashboard")
    assert dashboard["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-read-timeout"] == "1800"
    assert {m["manager"] for m in dashboard["metadata"]["managedFields"]} == {"raygate/team-1.ray-1"}


def test_a_refused_apply_still_leaves_0_1_fields_with_this_gateway(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    """The hand-over is its own write: when the apply after it is refused (someone edited a
    field raygate renders), what this gateway renders is already its own, not 0.1's shared
    manager's, which another gateway's release could otherwise remove."""
    server = helm_cluster
    install_ray_cluster(server, 1)
    path = spec_file(tmp_path, 1, extra=[])
    _apply_like_0_1(server, path)
    kube = Client(KubeConfig.from_file(server.kubeconfig_path), trust_env=False)
    from lightkube.resources.networking_v1 import Ingress
    from lightkube.types import PatchType
    kube.patch(Ingress, "ray-1-dashboard", {"metadata": {"annotations": {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "60"}}}, namespace="team-1",
        patch_type=PatchType.MERGE, field_manager="kubectl-edit")
    kube.close()
    report = apply(server, path, force_conflicts=False)
    [dash] = [c for c in report.changes if c.ref == "Ingress/team-1/ray-1-dashboard"]
    assert dash.action == "conflict" and "kubectl-edit" in dash.message
    entries = server.get("Ingress", "team-1", "ray-1-dashboard")["metadata"]["managedFields"]
    assert "raygate" not in {m["manager"] for m in entries}
    [mine] = [m for m in entries if m["manager"] == "raygate/team-1.ray-1"]
    assert mine["operation"] == "Apply"
    owned = apply_mod.fields_paths(mine["fieldsV1"])
    # The rules' backend and the rewrite annotation are this gateway's now; the edited
    # timeout is kubectl-edit's, not handed over.
    assert any(p[:2] == ("f:spec", "f:rules") for p in owned)
    assert not any("proxy-read-timeout" in "".join(p) for p in owned)


def test_the_hand_over_rewrites_only_0_1_s_entry(helm_cluster: FakeApiServer,
                                                 tmp_path: Path) -> None:
    """Helm's and other gateways' managedFields entries come out of the hand-over exactly as
    they went in; only raygate 0.1's entry is replaced by this gateway's."""
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    first = spec_file(tmp_path, 1, extra=[])
    _apply_like_0_1(server, first)
    apply(server, spec_file(tmp_path, 2, extra=[]))

    def others(kind: str, ns: str, name: str) -> list[dict[str, Any]]:
        return [m for m in server.get(kind, ns, name)["metadata"]["managedFields"]
                if m["manager"] not in ("raygate", "raygate/team-1.ray-1")]
    before = {k: others(*k) for k in (("Deployment", world.CTRL_NS, world.CTRL), TCP)}
    assert {m["manager"] for m in before[TCP]} >= {"kubectl-edit", "raygate/team-2.ray-2"}
    report = apply(server, first)
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    for key, entries in before.items():
        after = others(*key)
        assert [(m["manager"], m["operation"], m["fieldsV1"]) for m in after] == \
            [(m["manager"], m["operation"], m["fieldsV1"]) for m in entries], key


def test_0_1_run_again_after_the_upgrade_is_handed_over_again(helm_cluster: FakeApiServer,
                                                              tmp_path: Path) -> None:
    """A pipeline still on raygate 0.1 applies after the upgrade: its entry reappears beside
    this gateway's. The next apply folds it into the one entry this gateway has."""
    server = helm_cluster
    install_ray_cluster(server, 1)
    path = spec_file(tmp_path, 1, extra=[])
    apply(server, path)
    _apply_like_0_1(server, path)
    before = server.get("Ingress", "team-1", "ray-1-dashboard")
    assert {m["manager"] for m in before["metadata"]["managedFields"]} == \
        {"raygate", "raygate/team-1.ray-1"}
    report = apply(server, path)
    assert not report.failed, [(c.ref, c.action, c.message) for c in report.failed]
    for kind, ns, name in (("Ingress", "team-1", "ray-1-dashboard"), TCP):
        entries = server.get(kind, ns, name)["metadata"]["managedFields"]
        mine = [m for m in entries if m["manager"] == "raygate/team-1.ray-1"]
        assert "raygate" not in {m["manager"] for m in entries}
        assert len(mine) == 1 and mine[0]["operation"] == "Apply", entries
    dashboard = server.get("Ingress", "team-1", "ray-1-dashboard")
    assert dashboard["spec"] == before["spec"]
    assert tcp(server)["20001"] == "team-1/ray-1-head-svc:10001"


def test_a_helm_upgrade_between_read_and_flags_patch_keeps_its_flag(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    """Helm adds a flag to the controller after apply read it and before the guarded flags
    patch: the patch's ``test`` fails, apply reads the controller again and sets its flags
    into the new args; Helm's new flag stays."""
    install_ray_cluster(helm_cluster, 1)
    chart_args = list(args(helm_cluster))

    def helm_upgrade(server: FakeApiServer) -> None:
        dep = server.get("Deployment", world.CTRL_NS, world.CTRL)
        containers = dep["spec"]["template"]["spec"]["containers"]
        containers[0]["args"] = containers[0]["args"] + ["--v=2"]
        server.patch("Deployment", world.CTRL_NS, world.CTRL,
                     {"spec": {"template": {"spec": {"containers": containers}}}})
    # The controller's PATCHes in one apply: the dry run, the apply, then the flags.
    helm_cluster.before(helm_upgrade, verb="patch", kind="Deployment", name=world.CTRL, after=2)
    report = apply(helm_cluster, spec_file(tmp_path, 1, extra=[]))
    [dep] = [c for c in report.changes if c.ref.startswith("Deployment/")]
    assert dep.action == "configured", dep.message
    assert args(helm_cluster) == chart_args + ["--v=2"] + RAYGATE_FLAGS


def test_a_gateway_node_that_does_not_exist_is_reported_not_created(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    install_ray_cluster(helm_cluster, 1)
    path = spec_file(tmp_path, 1, extra=[])
    data = yaml.safe_load(path.read_text())
    data.setdefault("placement", {})["pinnedNode"] = {"nodeName": "node-9"}
    path.write_text(yaml.safe_dump(data))
    report = apply(helm_cluster, path)
    [node] = [c for c in report.changes if c.ref.startswith("Node/")]
    assert (node.action, node.message) == (
        "missing", "Node/node-9 does not exist; raygate only patches it (label the node)")
    assert helm_cluster.get("Node", None, "node-9") is None
    assert helm_cluster.count(verb="patch", kind="Node") == 0  # not even a dry run


def test_a_missing_node_does_not_hide_another_gateways_port(
        helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    """The cross-gateway check goes on past an object that is missing (reported as such)."""
    for i in (1, 2):
        install_ray_cluster(helm_cluster, i)
    assert not apply(helm_cluster, spec_file(tmp_path, 1, extra=[])).failed
    path = spec_file(tmp_path, 2, client_port=20001, extra=[])
    data = yaml.safe_load(path.read_text())
    data.setdefault("placement", {})["pinnedNode"] = {"nodeName": "node-9"}
    path.write_text(yaml.safe_dump(data))
    rv = helm_cluster.resource_version
    with pytest.raises(apply_mod.ApplyRefused) as e:
        apply(helm_cluster, path)
    assert "20001" in str(e.value) and "team-1.ray-1" in str(e.value)
    assert helm_cluster.resource_version == rv


def test_every_refusal_reason_is_named_in_one_message(helm_cluster: FakeApiServer,
                                                      tmp_path: Path) -> None:
    server = helm_cluster
    for i in (1, 2):
        install_ray_cluster(server, i)
    apply(server, spec_file(tmp_path, 1, extra=[]))
    with pytest.raises(apply_mod.ApplyRefused) as e:
        apply(server, spec_file(tmp_path, 2, client_port=20001, extra=[], stream_timeout="60s"))
    owner = "gateway team-1.ray-1 (raygate/team-1.ray-1)"
    assert str(e.value) == (
        "refused, nothing was written: "
        f"ConfigMap/{world.CTRL_NS}/tcp-services: external port 20001 "
        f"(= team-1/ray-1-head-svc:10001) is owned by {owner}; "
        f"ConfigMap/{world.CTRL_NS}/{world.CTRL}: .data.proxy-stream-timeout (= 3600s) is owned "
        f"by {owner} "
        "(give this gateway another port or value, or remove the other gateway first)")


def test_a_failed_hand_over_names_itself(helm_cluster: FakeApiServer, tmp_path: Path) -> None:
    server = helm_cluster
    install_ray_cluster(server, 1)
    path = spec_file(tmp_path, 1, extra=[])
    _apply_like_0_1(server, path)
    # The dashboard Ingress's PATCHes: the cross-gateway dry run, the hand-over's preview, then
    # the hand-over itself.
    server.inject(500, verb="patch", kind="Ingress", name="ray-1-dashboard", after=2)
    with pytest.raises(apply_mod.ApplyInterrupted) as e:
        apply(server, path)
    assert "hand over 0.1 ownership of Ingress/team-1/ray-1-dashboard: 500 InternalError" \
        in str(e.value), str(e.value)
