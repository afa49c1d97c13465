"""ClusterSource against the fake API server, through the real lightkube client."""

from __future__ import annotations

from pathlib import Path

import pytest

from raygate.errors import ClusterError
from raygate.sources.cluster import KINDS, MAX_REQUESTS, ClusterSource
from tests.cluster import world
from tests.fakeapi.admission import PREFIX, ingress_nginx_admission
from tests.fakeapi.server import FakeApiServer


def _source(fake_api: FakeApiServer, **kw) -> ClusterSource:
    return ClusterSource(fake_api.kubeconfig_path, **kw)


def test_load_reads_every_kind_with_one_list_each(fake_api: FakeApiServer) -> None:
    world.install(fake_api)
    fake_api.add_many({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": f"svc-{i}", "namespace": f"ns-{i % 7}"},
                       "spec": {"ports": [{"port": 80}]}} for i in range(300))
    fake_api.add_many({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"worker-{i}", "namespace": world.RAY_NS,
        "labels": {"ray.io/node-type": "worker"}}} for i in range(50))
    fake_api.reset_requests()
    source = _source(fake_api)
    result = source.load()

    assert source.request_count == fake_api.request_count <= MAX_REQUESTS
    assert fake_api.count("get") == 0  # never a GET per object
    listed = ("Node", "Service", "EndpointSlice", "ConfigMap", "Deployment", "DaemonSet",
              "Ingress", "IngressClass", "RayCluster", "RayService", "Gateway", "HTTPRoute",
              "TCPRoute", "GatewayClass", "ListenerSet")
    for kind in listed:
        assert fake_api.count("list", kind) == 1, kind
    # One aggregated discovery request, then one LIST per kind the fake serves (it has no
    # GRPCRoute, TLSRoute, ReferenceGrant or policy CRDs).
    assert fake_api.request_count == 1 + len(listed) + 2  # + the two Pod LISTs
    assert fake_api.count("list", "Pod") == 2  # controller pods + Ray heads, label-filtered
    pod_selectors = sorted(r.query["labelSelector"] for r in fake_api.requests if r.kind == "Pod")
    assert pod_selectors == ["app.kubernetes.io/name=ingress-nginx", "ray.io/node-type=head"]

    by_kind: dict[str, list] = {}
    for obj in result.objects:
        by_kind.setdefault(obj.kind, []).append(obj)
    assert sorted(p.name for p in by_kind["Pod"]) == ["ingress-nginx-controller-7d9f-abc12", "ray-head-0"]
    assert len(by_kind["Service"]) == 301 and len(by_kind["Node"]) == 2
    rc = by_kind["RayCluster"][0]
    assert rc.api_version == "ray.io/v1" and rc.status["head"]["serviceName"] == world.HEAD_SVC
    svc = next(s for s in by_kind["Service"] if s.name == world.HEAD_SVC)
    stored = fake_api.get("Service", world.RAY_NS, world.HEAD_SVC)
    assert svc.api_version == "v1"  # filled in: LIST items of built-in kinds have no kind
    assert svc.origin.file == "cluster:fake"
    assert svc.origin.uid == stored["metadata"]["uid"]
    assert svc.origin.resource_version == stored["metadata"]["resourceVersion"]
    assert source.forbidden == {} and result.problems == []


def test_pagination_reads_everything(fake_api: FakeApiServer) -> None:
    fake_api.add_many(world.node(f"n{i}", f"10.0.0.{i}") for i in range(25))
    source = _source(fake_api, page_size=10)
    nodes = [o for o in source.load().objects if o.kind == "Node"]
    assert len(nodes) == 25
    assert fake_api.count("list", "Node") == 3


def test_forbidden_kind_is_recorded_and_the_rest_is_read(fake_api: FakeApiServer) -> None:
    world.install(fake_api)
    fake_api.forbid("EndpointSlice")
    fake_api.forbid("IngressClass", verbs=["list"])
    source = _source(fake_api)
    result = source.load()
    assert set(source.forbidden) == {"EndpointSlice", "IngressClass"}
    assert "cannot list resource \"endpointslices\"" in source.forbidden["EndpointSlice"]
    assert any("EndpointSlice not checked (forbidden)" in n for n in result.notices)
    assert {o.kind for o in result.objects} >= {"Node", "Service", "RayCluster", "Deployment"}
    assert not any(o.kind == "EndpointSlice" for o in result.objects)


def test_uninstalled_crds_are_not_listed(fake_api: FakeApiServer) -> None:
    world.install(fake_api)
    fake_api.disable_group("ray.io")
    fake_api.disable_group("gateway.networking.k8s.io")
    source = _source(fake_api)
    result = source.load()
    assert fake_api.count("list", "RayCluster") == 0 and fake_api.count("list", "Gateway") == 0
    assert set(source.not_served) == {k.kind for k in KINDS if k.optional}
    assert "does not serve the API group ray.io" in source.not_served["RayCluster"]
    assert any("RayCluster not checked (not served)" in n for n in result.notices)


def test_namespace_limits_namespaced_lists(fake_api: FakeApiServer) -> None:
    world.install(fake_api)
    result = _source(fake_api, namespace=world.RAY_NS).load()
    assert {o.namespace for o in result.objects if o.namespace} == {world.RAY_NS}
    assert any(o.kind == "Node" for o in result.objects)  # cluster-scoped kinds still read


def test_dry_run_returns_the_webhook_denial(fake_api: FakeApiServer) -> None:
    world.install(fake_api)
    fake_api.admission = ingress_nginx_admission(fake_api)
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "ray", "namespace": world.RAY_NS, "annotations": {
                   "nginx.ingress.kubernetes.io/server-snippet": "location /x {}"}},
               "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                   "path": "/ray/(.*)", "pathType": "ImplementationSpecific",
                   "backend": {"service": {"name": world.HEAD_SVC, "port": {"number": 8265}}}}]}}]}}
    source = _source(fake_api)
    assert source.dry_run(ingress) == (
        PREFIX + "nginx.ingress.kubernetes.io/server-snippet annotation cannot be used. "
        "Snippet directives are disabled by the Ingress administrator")
    del ingress["metadata"]["annotations"]
    assert source.dry_run(ingress) is None
    assert fake_api.get("Ingress", world.RAY_NS, "ray") is None
    assert all(r.query.get("dryRun") == "All" for r in fake_api.requests if r.verb == "patch")


def test_pod_logs(fake_api: FakeApiServer) -> None:
    world.install(fake_api)
    fake_api.set_logs(world.CTRL_NS, "ingress-nginx-controller-7d9f-abc12",
                      "".join(f"l{i}\n" for i in range(300)))
    logs = _source(fake_api).pod_logs(world.CTRL_NS, "ingress-nginx-controller-7d9f-abc12", tail=3)
    assert logs == "l297\nl298\nl299\n"


def test_unreachable_server_is_one_clear_error(fake_api: FakeApiServer) -> None:
    path = fake_api.kubeconfig_path
    fake_api.stop()
    with pytest.raises(ClusterError) as e:
        ClusterSource(path).load()
    assert str(e.value).startswith(f"cannot reach the Kubernetes API at {fake_api.url}")
    assert "connection refused" in str(e.value)


def test_rejected_token_is_named(fake_api: FakeApiServer, tmp_path: Path) -> None:
    fake_api.token = "something-else"
    with pytest.raises(ClusterError) as e:
        _source(fake_api).load()
    assert "401 Unauthorized" in str(e.value) and "'fake'" in str(e.value)


def test_bad_kubeconfig_and_context(fake_api: FakeApiServer, tmp_path: Path) -> None:
    with pytest.raises(ClusterError) as e:
        ClusterSource(str(tmp_path / "missing")).load()
    assert "missing" in str(e.value) and "not found" in str(e.value)
    with pytest.raises(ClusterError) as e:
        ClusterSource(fake_api.kubeconfig_path, context="prod").load()
    assert "Context 'prod' not found" in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("apiVersion: v1\nclusters: [\n", "invalid YAML at line 3"),
    ("apiVersion: v1\nkind: Config\n", "not a valid kubeconfig: no 'clusters' entry"),
    ("- 1\n- 2\n", "not a valid kubeconfig: expected a Config mapping"),
])
def test_broken_kubeconfig_is_one_line_naming_the_file(tmp_path: Path, text: str,
                                                        message: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    with pytest.raises(ClusterError) as e:
        ClusterSource(str(path)).load()
    assert str(e.value).startswith(f"kubeconfig {path}: ") and message in str(e.value)
    assert "\n" not in str(e.value)


def test_request_counts_in_docs_doctor_md(fake_api: FakeApiServer) -> None:
    """The figures docs/doctor.md states, counted at the server: 13 requests on an
    ingress-nginx + KubeRay cluster (discovery + 10 core LISTs + 2 KubeRay), 25 at most."""
    from raygate.sources.cluster import MAX_LISTS
    world.install(fake_api)
    fake_api.disable_group("gateway.networking.k8s.io")
    fake_api.reset_requests()
    source = _source(fake_api)
    source.load()
    assert fake_api.request_count == source.request_count == 13
    assert MAX_LISTS == 24 and MAX_REQUESTS == 25
