"""Doctor reads Gateway API from a live cluster in the versions the cluster serves.

The fake API server serves exactly what the real CRD files of a bundle serve
(``../shared/corpus/crds``: Gateway API v1.6.1 standard, v1.4.1 experimental, Envoy Gateway
v1.9.0 and NGINX Gateway Fabric v2.6.7 policies), through aggregated discovery or, like an
older API server, the legacy group list. Every LIST is counted at the server.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

import pytest

from raygate.doctor import core
from raygate.sources.cluster import KINDS, MAX_LEGACY_DISCOVERY, MAX_LISTS, MAX_REQUESTS
from tests.doctor import cluster
from tests.fakeapi.resources import BASE_RESOURCES, CORPUS_CRDS, crd_resources
from tests.fakeapi.server import FakeApiServer

pytestmark = pytest.mark.skipif(not (CORPUS_CRDS / "gateway-api-v1.6.1").is_dir(),
                                reason="../shared/corpus/crds is absent")

V16 = ("gateway-api-v1.6.1/standard",)
V14_EXPERIMENTAL = ("gateway-api-v1.4.1/experimental",)
POLICIES = ("envoy-gateway-v1.9.0", "nginx-gateway-fabric-v2.6.7")
GW = "gateway.networking.k8s.io"
EG = "gateway.envoyproxy.io/gatewayclass-controller"
OTHER_NS = "ray-clients"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(*crd_dirs, without=(), aggregated=True)``: a started fake API server serving the
    core kinds, KubeRay and exactly those CRDs."""
    servers: list[FakeApiServer] = []

    def start(*dirs: str, without: tuple[str, ...] = (), aggregated: bool = True) -> FakeApiServer:
        server = FakeApiServer(BASE_RESOURCES + crd_resources(*dirs, without=without),
                               aggregated_discovery=aggregated).start()
        servers.append(server)
        server.write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}")
        return server

    yield start
    for s in servers:
        s.stop()


def gateway_objects(tcp_version: str = "v1", listener_set: str | None = "ListenerSet"
                    ) -> list[dict[str, Any]]:
    """A Ray cluster behind Envoy Gateway, with three mistakes the rules name on files:
    a ListenerSet its Gateway does not admit (RG364, and its status says so: RG367), a
    TCPRoute on the HTTP listener (RG360
    NotAllowedByListeners) and a TLSRoute in another namespace whose backend has no
    ReferenceGrant (RG160). The Dashboard route's timeout comes from a BackendTrafficPolicy,
    so RG265 stays quiet only if the policy was read."""
    objs = [o for o in cluster.healthy() if o["kind"] != "Ingress"
            and not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == "tcp-services")]
    objs += [
        {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "eg"},
         "spec": {"controllerName": EG}},
        {"apiVersion": f"{GW}/v1", "kind": "Gateway",
         "metadata": {"name": "ray-gateway", "namespace": "ray"},
         "spec": {"gatewayClassName": "eg", "listeners": [
             {"name": "http", "protocol": "HTTP", "port": 80},
             {"name": "tls", "protocol": "TLS", "port": 443, "tls": {"mode": "Passthrough"},
              "allowedRoutes": {"namespaces": {"from": "All"}}}]}},
        {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
         "metadata": {"name": "ray-dashboard", "namespace": "ray"},
         "spec": {"parentRefs": [{"name": "ray-gateway", "sectionName": "http"}], "rules": [
             {"matches": [{"path": {"type": "Exact", "value": "/ray"}}],
              "filters": [{"type": "RequestRedirect", "requestRedirect": {
                  "path": {"type": "ReplaceFullPath", "replaceFullPath": "/ray/"},
                  "statusCode": 301}}]},
             {"matches": [{"path": {"type": "PathPrefix", "value": "/ray/"}}],
              "filters": [{"type": "URLRewrite", "urlRewrite": {
                  "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
              "backendRefs": [{"name": cluster.HEAD_SVC, "port": 8265}]}]}},
        {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
         "metadata": {"name": "ray-dashboard", "namespace": "ray"},
         "spec": {"targetRefs": [{"group": GW, "kind": "HTTPRoute", "name": "ray-dashboard"}],
                  "timeout": {"http": {"requestTimeout": "0s"}}}},
        {"apiVersion": f"{GW}/{tcp_version}", "kind": "TCPRoute",
         "metadata": {"name": "ray-client", "namespace": "ray"},
         "spec": {"parentRefs": [{"name": "ray-gateway", "sectionName": "http"}],
                  "rules": [{"backendRefs": [{"name": cluster.HEAD_SVC, "port": 10001}]}]}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OTHER_NS}},
    ]
    if tcp_version == "v1":  # TLSRoute v1 ships with the bundles that have TCPRoute v1
        objs.append(
            {"apiVersion": f"{GW}/v1", "kind": "TLSRoute",
             "metadata": {"name": "ray-client-tls", "namespace": OTHER_NS},
             "spec": {"parentRefs": [{"name": "ray-gateway", "namespace": "ray",
                                      "sectionName": "tls"}],
                      "hostnames": ["ray.example.com"],
                      "rules": [{"backendRefs": [{"name": cluster.HEAD_SVC, "namespace": "ray",
                                                  "port": 10001}]}]}})
    if listener_set == "ListenerSet":
        objs.append(
            {"apiVersion": f"{GW}/v1", "kind": "ListenerSet",
             "metadata": {"name": "ray-extra", "namespace": OTHER_NS},
             "spec": {"parentRef": {"name": "ray-gateway", "namespace": "ray"},
                      "listeners": [{"name": "serve", "protocol": "HTTP", "port": 8000}]},
             # What the implementation writes for it (RG367 reads a ListenerSet's status).
             "status": {"conditions": [{"type": "Accepted", "status": "False",
                                        "reason": "NotAllowed",
                                        "lastTransitionTime": "2026-12-01T00:00:00Z"}]}})
    elif listener_set == "XListenerSet":
        objs.append(
            {"apiVersion": "gateway.networking.x-k8s.io/v1alpha1", "kind": "XListenerSet",
             "metadata": {"name": "ray-extra", "namespace": OTHER_NS},
             "spec": {"parentRef": {"name": "ray-gateway", "namespace": "ray"},
                      "listeners": [{"name": "serve", "protocol": "HTTP", "port": 8000}]}})
    return objs


def _findings(d: core.Diagnosis) -> set[tuple[str, str, str, str]]:
    return {(f.code, f.object.kind, f.object.namespace, f.object.name) for f in d.result.findings
            if f.object is not None and f.object.api_version.startswith("gateway.")}


def _live(server: FakeApiServer) -> tuple[core.Gathered, core.Diagnosis]:
    server.reset_requests()
    g = core.gather_live(kubeconfig=server.kubeconfig_path)
    return g, core.diagnose(g)


def _files(objs: list[dict[str, Any]], tmp_path: Path, crd_dirs: tuple[str, ...] = ()
           ) -> core.Diagnosis:
    """Doctor on the same objects as files, with the cluster's CRD files beside them (what
    ``kubectl get crd -o yaml`` would add to the snapshot)."""
    directory = tmp_path / "files"
    directory.mkdir()
    (directory / "snapshot.yaml").write_text(cluster.dump(objs))
    for i, d in enumerate(crd_dirs):
        for crd in sorted((CORPUS_CRDS / d).glob("*.yaml")):
            (directory / f"crd-{i}-{crd.name}").write_text(crd.read_text())
    return core.diagnose(core.gather_snapshot([str(directory)]))


def test_listener_set_tls_route_and_tcp_route_v1_judged_live_as_on_files(serve, tmp_path) -> None:
    server = serve(*V16, *POLICIES)
    objs = gateway_objects()
    server.add_many(copy.deepcopy(objs))
    g, live = _live(server)

    on_files = _files(objs, tmp_path, (*V16, *POLICIES))
    expected = {("RG364", "ListenerSet", OTHER_NS, "ray-extra"),
                ("RG367", "ListenerSet", OTHER_NS, "ray-extra"),
                ("RG360", "TCPRoute", "ray", "ray-client"),
                ("RG160", "TLSRoute", OTHER_NS, "ray-client-tls")}
    assert expected <= _findings(on_files), _findings(on_files)
    assert _findings(live) == _findings(on_files)
    # The BackendTrafficPolicy was listed: the Dashboard route's timeout is known.
    assert not any(f.code == "RG265" for f in live.result.findings)
    assert not any(code in live.result.not_checked for code in ("RG160", "RG360", "RG364"))

    listed = {(r.kind, r.path.split("/")[3] if r.path.startswith("/apis/") else "v1")
              for r in server.requests if r.verb == "list"}
    assert {("TCPRoute", "v1"), ("TLSRoute", "v1"), ("ListenerSet", "v1"), ("GRPCRoute", "v1"),
            ("ReferenceGrant", "v1"), ("BackendTrafficPolicy", "v1alpha1"),
            ("SecurityPolicy", "v1alpha1"), ("ClientSettingsPolicy", "v1alpha1"),
            ("ProxySettingsPolicy", "v1alpha1")} <= listed
    # Every kind of KINDS is served here but XListenerSet (ListenerSet's v1.4 stand-in): one
    # aggregated discovery request, then exactly one LIST per slot.
    assert server.count("list") == MAX_LISTS
    assert g.read_requests == server.request_count == 1 + MAX_LISTS == MAX_REQUESTS
    assert server.count("get") == 0


def test_tcproute_v1alpha2_only_cluster(serve, tmp_path) -> None:
    # Gateway API v1.4.1 experimental: TCPRoute v1alpha2 only, XListenerSet, no TLSRoute or
    # GRPCRoute CRD in the bundle read.
    server = serve(*V14_EXPERIMENTAL, *POLICIES)
    objs = gateway_objects(tcp_version="v1alpha2", listener_set="XListenerSet")
    server.add_many(copy.deepcopy(objs))
    g, live = _live(server)

    tcp = [o for o in g.objects if o.kind == "TCPRoute"]
    assert [o.api_version for o in tcp] == [f"{GW}/v1alpha2"]
    assert [r.path for r in server.requests if r.kind == "TCPRoute"] == \
        [f"/apis/{GW}/v1alpha2/tcproutes"]  # no 404 probing of v1 first
    assert any(o.kind == "XListenerSet" for o in g.objects)
    assert server.count("list", "ListenerSet") == 0  # not served: never asked for
    assert _findings(live) == _findings(_files(objs, tmp_path, V14_EXPERIMENTAL))
    assert ("RG360", "TCPRoute", "ray", "ray-client") in _findings(live)
    assert ("RG364", "XListenerSet", OTHER_NS, "ray-extra") in _findings(live)
    # Envoy Gateway v1.9 watches TCPRoute v1, which these CRDs do not serve.
    assert ("RG365", "TCPRoute", "ray", "ray-client") in _findings(live)
    assert {"TLSRoute", "GRPCRoute"} <= set(g.not_served)
    assert any("TLSRoute not checked (not served)" in n for n in g.notices)
    # XListenerSet stands in for ListenerSet: no notice that ListenerSets were not checked.
    assert not any("ListenerSet not checked" in n and "XListenerSet" not in n for n in g.notices)


def test_cluster_without_listener_sets_is_not_an_error(serve, tmp_path) -> None:
    server = serve(*V16, without=("ListenerSet",))
    objs = [o for o in gateway_objects(listener_set=None)
            if not o["apiVersion"].startswith("gateway.envoyproxy.io/")]
    server.add_many(copy.deepcopy(objs))
    g, live = _live(server)

    assert server.count("list", "ListenerSet") == 0 and server.count("list", "XListenerSet") == 0
    assert set(g.not_served) >= {"ListenerSet", "XListenerSet", "BackendTrafficPolicy"}
    assert live.result.not_checked["RG364"].startswith("not checked (not served): ListenerSet: ")
    assert any("ListenerSet not checked (not served)" in n for n in g.notices)
    assert ("RG360", "TCPRoute", "ray", "ray-client") in _findings(live)
    # Without the policy, Envoy Gateway's 15 s default applies to the Dashboard rule.
    assert ("RG265", "HTTPRoute", "ray", "ray-dashboard") in _findings(live)
    assert _findings(live) == _findings(_files(objs, tmp_path, V16))
    assert server.count("list") == MAX_LISTS - 5  # no ListenerSet slot, no policy kinds


def test_legacy_discovery_reads_the_same(serve) -> None:
    """An API server without aggregated discovery: the group list, then the resource list of
    each group version a custom kind may come from; the same LISTs follow."""
    objs = gateway_objects()
    aggregated = serve(*V16, *POLICIES)
    legacy = serve(*V16, *POLICIES, aggregated=False)
    for server in (aggregated, legacy):
        server.add_many(copy.deepcopy(objs))
    _, a = _live(aggregated)
    g, b = _live(legacy)
    assert _findings(a) == _findings(b)
    discovery = [r for r in legacy.requests if r.verb is None]
    assert 1 < len(discovery) <= MAX_LEGACY_DISCOVERY
    assert legacy.count("list") == aggregated.count("list") == MAX_LISTS
    assert g.read_requests == len(discovery) + MAX_LISTS


def test_version_preferences_follow_the_bundles() -> None:
    by_kind = {k.kind: k for k in KINDS}
    # v1 first where Gateway API v1.5/v1.6 moved the kind to v1; the older ones after.
    assert by_kind["TCPRoute"].versions == ("v1", "v1alpha2")
    assert by_kind["TLSRoute"].versions == ("v1", "v1alpha3", "v1alpha2")
    assert by_kind["ListenerSet"].slot == by_kind["XListenerSet"].slot
    assert "ValidatingWebhookConfiguration" not in by_kind  # no rule reads it


def test_tcproute_version_judged_from_discovery(serve, tmp_path) -> None:
    """RG365 on a live cluster: the TCPRoute CRD is not listed (CRDs are large), discovery says
    v1.6.1 standard serves TCPRoute v1 only, and NGINX Gateway Fabric 2.6 watches v1alpha2."""
    server = serve(*V16)
    objs = [o for o in cluster.healthy() if o["kind"] != "Ingress"] + [
        {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "nginx"},
         "spec": {"controllerName": "gateway.nginx.org/nginx-gateway-controller"}},
        {"apiVersion": f"{GW}/v1", "kind": "Gateway",
         "metadata": {"name": "ngf", "namespace": "ray"},
         "spec": {"gatewayClassName": "nginx", "listeners": [
             {"name": "ray-client", "protocol": "TCP", "port": 10001}]}},
        {"apiVersion": f"{GW}/v1", "kind": "TCPRoute",
         "metadata": {"name": "ray-client", "namespace": "ray"},
         "spec": {"parentRefs": [{"name": "ngf", "sectionName": "ray-client"}],
                  "rules": [{"backendRefs": [{"name": cluster.HEAD_SVC, "port": 10001}]}]}},
    ]
    server.add_many(copy.deepcopy(objs))
    g, live = _live(server)
    # docs/doctor.md: 21 requests with all of Gateway API v1.6 standard and no policy CRDs.
    assert g.read_requests == server.request_count == 21
    assert g.served["TCPRoute"] == ("v1",)
    found = [f for f in live.result.findings if f.code == "RG365"]
    assert [(f.object.name, f.severity.value) for f in found] == [("ray-client", "warning")]
    assert "watches TCPRoute v1alpha2, which the cluster (API discovery) does not serve (v1)" \
        in found[0].message

    # The same objects as files, with the v1.6.1 standard TCPRoute CRD beside them.
    crd = (CORPUS_CRDS / V16[0] / "gateway.networking.k8s.io_tcproutes.yaml").read_text()
    (tmp_path / "crd.yaml").write_text(crd)
    (tmp_path / "objects.yaml").write_text(cluster.dump(objs))
    on_files = core.diagnose(core.gather_snapshot([str(tmp_path)]))
    assert [f.object.name for f in on_files.result.findings if f.code == "RG365"] == ["ray-client"]

    # A snapshot saved from the live read keeps what discovery said.
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "cluster.yaml").write_text(core.snapshot_text(g, []))
    again = core.diagnose(core.gather_snapshot([str(saved)]))
    assert [f.message for f in again.result.findings if f.code == "RG365"] == [found[0].message]

    # Without the NGF class (a v1-watching implementation), nothing to say.
    server.delete("GatewayClass", None, "nginx")
    server.add({**objs[-3], "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}})
    _, live = _live(server)
    assert not any(f.code == "RG365" for f in live.result.findings)


def test_a_kind_the_cluster_does_not_serve_is_named_not_a_bare_404(serve) -> None:
    from raygate.errors import ClusterError
    from raygate.sources.cluster import ClusterSource
    server = serve(*V14_EXPERIMENTAL)
    with ClusterSource(server.kubeconfig_path) as source:
        with pytest.raises(ClusterError, match=r"does not serve TCPRoute in "
                           r"gateway.networking.k8s.io/v1 \(it serves v1alpha2\)"):
            source.resource_type(f"{GW}/v1", "TCPRoute")
        with pytest.raises(ClusterError, match="does not serve ListenerSet .* CRD installed"):
            source.resource_type(f"{GW}/v1", "ListenerSet")
        assert source.resource_type(f"{GW}/v1alpha2", "TCPRoute") == ("tcproutes", True)
