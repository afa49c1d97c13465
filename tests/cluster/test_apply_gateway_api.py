"""``raygate apply`` for the Gateway API backend, against the strict fake API server: the
Gateway, routes and MetalLB objects are server-side applied under the gateway's own manager,
a re-apply changes nothing, the wait covers the routes' backends, --prune removes a route the
spec no longer renders, and a second gateway never touches the first one's objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from raygate import apply as apply_mod
from raygate import render
from raygate import spec as spec_mod
from raygate.cli import main
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.resources import BASE_RESOURCES, CORPUS_CRDS, crd_resources
from tests.fakeapi.server import FakeApiServer

GW = "gateway.networking.k8s.io"


def _spec(tmp_path: Path, name: str = "ray-cluster-kuberay", **exposures: Any) -> Path:
    data = {
        "apiVersion": "raygate.io/v1alpha1", "kind": "RayGateway",
        "rayCluster": {"name": name, "namespace": world.RAY_NS, "authMode": "token"},
        "backend": "gateway-api", "gatewayApi": {"gatewayClassName": "eg"},
        "exposures": {"rayClient": {"enabled": True, "port": 10001}, "extraTcpPorts": [],
                      **exposures},
        "security": {"allowlist": []},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def cluster(fake_api: FakeApiServer) -> FakeApiServer:
    world.install(fake_api)
    fake_api.add({"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "eg"},
                  "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}})
    return fake_api


def _apply(server: FakeApiServer, path: Path, **kw: Any) -> apply_mod.ApplyReport:
    spec = spec_mod.load(path)
    with ClusterSource(server.kubeconfig_path) as source:
        objects = render.render(spec, cluster=apply_mod.load_live(source))
        return apply_mod.apply_objects(source, objects, gateway=apply_mod.gateway_for(spec), **kw)


def _managers(obj: dict[str, Any]) -> set[str]:
    return {m["manager"] for m in obj["metadata"].get("managedFields") or []}


def test_gateway_api_objects_are_applied_under_the_gateways_manager(cluster: FakeApiServer,
                                                                    tmp_path: Path) -> None:
    path = _spec(tmp_path, serve={"path": "/serve"})
    first = _apply(cluster, path)
    actions = {c.ref: c.action for c in first.changes}
    gateway = f"Gateway/{world.RAY_NS}/ray-cluster-kuberay-gateway"
    assert actions[gateway] == "created" and not first.failed, first.changes
    assert any(ref.startswith("HTTPRoute/") for ref in actions)
    assert any(ref.startswith("TCPRoute/") for ref in actions)
    live = cluster.get("Gateway", world.RAY_NS, "ray-cluster-kuberay-gateway")
    assert _managers(live) == {f"raygate/{world.RAY_NS}.ray-cluster-kuberay"}
    assert {entry["name"] for entry in live["spec"]["listeners"]} >= {"http", "ray-client"}
    # Re-running changes nothing.
    again = _apply(cluster, path)
    assert {c.action for c in again.changes} == {"unchanged"}, again.changes


def test_the_wait_covers_every_route_backend(tmp_path: Path) -> None:
    spec = spec_mod.load(_spec(tmp_path, serve={"path": "/serve"}))
    targets = [t.description for t in apply_mod.wait_targets(render.render(spec))]
    head = f"endpoints of Service {world.RAY_NS}/ray-cluster-kuberay-head-svc"
    assert any(t.startswith(head) for t in targets), targets
    ports = next(t for t in targets if t.startswith(head))
    assert "8265" in ports and "10001" in ports and "8000" in ports


def test_prune_removes_a_route_no_longer_rendered_and_spares_another_gateway(
        cluster: FakeApiServer, tmp_path: Path) -> None:
    cluster.add({**world.raycluster(), "metadata": {"name": "second", "namespace": world.RAY_NS}})
    cluster.add({**world.head_service(), "metadata": {"name": "second-head-svc",
                                                      "namespace": world.RAY_NS}})
    with_serve = _spec(tmp_path, serve={"path": "/serve"})
    _apply(cluster, with_serve)
    other = _apply(cluster, _spec(tmp_path, name="second", rayClient={"enabled": True, "port": 10002}))
    assert not other.failed, other.changes
    routes_before = {o["metadata"]["name"] for o in cluster.objects("HTTPRoute", world.RAY_NS)}
    pruned = _apply(cluster, _spec(tmp_path), prune=True)  # Serve no longer exposed
    gone = {c.ref for c in pruned.changes if c.action == "pruned"}
    assert gone and all("serve" in ref for ref in gone), pruned.changes
    routes_after = {o["metadata"]["name"] for o in cluster.objects("HTTPRoute", world.RAY_NS)}
    assert routes_after == routes_before - {ref.rsplit("/", 1)[1] for ref in gone}
    # The second gateway's objects are all still there, untouched.
    assert cluster.get("Gateway", world.RAY_NS, "second-gateway") is not None
    assert any(name.startswith("second") for name in routes_after)


def test_cli_applies_the_gateway_api_backend(cluster: FakeApiServer, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["apply", "-f", str(_spec(tmp_path)), "--kubeconfig",
              str(cluster.kubeconfig_path), "--no-wait"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 0, err
    assert f"Gateway/{world.RAY_NS}/ray-cluster-kuberay-gateway created" in out + err


def test_gateways_attach_to_a_shared_gateway_without_writing_it(cluster: FakeApiServer,
                                                                tmp_path: Path) -> None:
    """Several Ray gateways behind one Gateway another team runs: each adds its listeners
    through a ListenerSet of its own, so the shared Gateway is never written (no manager of
    raygate on it, nothing to co-own) and pruning one gateway leaves the other's listeners."""
    cluster.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "infra"}})
    cluster.add({"apiVersion": f"{GW}/v1", "kind": "Gateway",
                 "metadata": {"name": "shared", "namespace": "infra"},
                 "spec": {"gatewayClassName": "eg", "allowedListeners": {"namespaces": {"from": "All"}},
                          "listeners": [{"name": "https", "protocol": "HTTPS", "port": 443}]}},
                manager="helm")
    cluster.add({**world.raycluster(), "metadata": {"name": "second", "namespace": world.RAY_NS}})
    cluster.add({**world.head_service(), "metadata": {"name": "second-head-svc",
                                                      "namespace": world.RAY_NS}})
    attach = {"createGateway": False, "gatewayName": "shared", "gatewayNamespace": "infra",
              "listenerSet": True}

    def spec(name: str, port: int, client: bool = True) -> Path:
        path = _spec(tmp_path, name=name, rayClient={"enabled": client, "port": port})
        data = yaml.safe_load(path.read_text())
        data["gatewayApi"] = attach
        path.write_text(yaml.safe_dump(data))
        return path

    before = cluster.get("Gateway", "infra", "shared")
    for name, port in (("ray-cluster-kuberay", 10001), ("second", 10002)):
        report = _apply(cluster, spec(name, port))
        assert not report.failed, report.changes
    after = cluster.get("Gateway", "infra", "shared")
    assert after["spec"] == before["spec"] and _managers(after) == {"helm"}
    sets = {o["metadata"]["name"]: o for o in cluster.objects("ListenerSet", world.RAY_NS)}
    assert set(sets) == {"ray-cluster-kuberay-listeners", "second-listeners"}
    assert {entry["port"] for entry in sets["second-listeners"]["spec"]["listeners"]} >= {10002}
    # The first gateway stops exposing its Ray Client: its own ListenerSet loses that listener
    # (server-side apply drops what its manager no longer sends); the second's is untouched.
    second_before = cluster.get("ListenerSet", world.RAY_NS, "second-listeners")
    report = _apply(cluster, spec("ray-cluster-kuberay", 10001, client=False), prune=True)
    assert not report.failed, report.changes
    first = cluster.get("ListenerSet", world.RAY_NS, "ray-cluster-kuberay-listeners")
    assert {entry["name"] for entry in first["spec"]["listeners"]} == {"http"}
    assert cluster.get("ListenerSet", world.RAY_NS, "second-listeners")["spec"] == \
        second_before["spec"]
    assert _managers(cluster.get("Gateway", "infra", "shared")) == {"helm"}


@pytest.mark.skipif(not (CORPUS_CRDS / "gateway-api-v1.4.1").is_dir(),
                    reason="../shared/corpus/crds is absent")
def test_apply_writes_the_versions_the_cluster_serves(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A cluster with Gateway API v1.4.1's experimental CRDs (TCPRoute v1alpha2 only,
    XListenerSet instead of ListenerSet) and Envoy Gateway, which itself watches TCPRoute v1:
    with no CRD among the manifests, apply renders what discovery says the cluster serves, so
    the API server accepts every object (v1 TCPRoutes and ListenerSets would be a 404)."""
    server = FakeApiServer(BASE_RESOURCES + crd_resources("gateway-api-v1.4.1/experimental",
                                                          "envoy-gateway-v1.9.0"))
    server.start()
    try:
        server.write_kubeconfig(tmp_path / "kubeconfig")
        world.install(server)
        server.add({"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "eg"},
                    "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}})
        server.add({"apiVersion": f"{GW}/v1", "kind": "Gateway",
                    "metadata": {"name": "shared", "namespace": "infra"},
                    "spec": {"gatewayClassName": "eg",
                             "allowedListeners": {"namespaces": {"from": "All"}},
                             "listeners": [{"name": "web", "protocol": "HTTP", "port": 80}]}})
        path = _spec(tmp_path)
        data = yaml.safe_load(path.read_text())
        data["gatewayApi"] = {"createGateway": False, "gatewayName": "shared",
                              "gatewayNamespace": "infra", "listenerSet": True,
                              "implementation": "envoy-gateway"}
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(SystemExit) as exit_:
            main(["apply", "-f", str(path), "--kubeconfig", str(server.kubeconfig_path),
                  "--no-wait"])
        out, err = capsys.readouterr()
        assert exit_.value.code == 0, out + err
        [tcp] = server.objects("TCPRoute", world.RAY_NS)
        assert tcp["apiVersion"] == f"{GW}/v1alpha2"
        [ls] = server.objects("XListenerSet", world.RAY_NS)
        assert ls["apiVersion"] == "gateway.networking.x-k8s.io/v1alpha1"
        assert all((r.status or 200) < 400 for r in server.requests if r.verb == "patch")
    finally:
        server.stop()
