"""The operator on the Gateway API backend, against the fake API server through the real
lightkube client: each exposed cluster's TCP ports become listeners of its own ListenerSet on
the shared Gateway, its TCPRoutes attach to those listeners, the shared Gateway is never
written, a Gateway that does not admit the ListenerSet is reported (and nothing is exposed on
TCP), and removal leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest

from raygate.operator import allocations as alloc
from raygate.operator import desired, settings
from raygate.operator.reconciler import Api, Reconciler
from raygate.sources.cluster import ClusterSource
from tests.fakeapi.server import FakeApiServer
from tests.operator.test_pure import ray_cluster

OP_NS = "raygate-system"
GW = "gateway.networking.k8s.io"


def shared_gateway(allowed: dict[str, Any] | None = None,
                   extra_listeners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Gateway another team runs: an HTTP listener open to every namespace."""
    spec: dict[str, Any] = {"gatewayClassName": "eg", "listeners": [
        {"name": "web", "protocol": "HTTP", "port": 80,
         "allowedRoutes": {"namespaces": {"from": "All"}}}, *(extra_listeners or [])]}
    if allowed is not None:
        spec["allowedListeners"] = {"namespaces": allowed}
    return {"apiVersion": f"{GW}/v1", "kind": "Gateway",
            "metadata": {"name": "shared", "namespace": "infra"}, "spec": spec}


@pytest.fixture
def api_server(fake_api: FakeApiServer) -> FakeApiServer:
    for ns in (OP_NS, "infra", "t", "u"):
        fake_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    fake_api.add(shared_gateway({"from": "All"}), manager="helm")
    return fake_api


def reconciler(source: ClusterSource, **overrides: Any) -> Reconciler:
    return Reconciler(Api(source), settings.load(None, {
        "backend": "gateway-api", "namespace": OP_NS, "gatewayAddress": "gw.example.com",
        "gatewayApi": {"gatewayName": "shared", "gatewayNamespace": "infra"},
        "portRange": {"first": 30001, "last": 30999}, **overrides}))


def ports_held(server: FakeApiServer) -> dict[str, int]:
    return {a.cluster: a.port for a in (alloc.from_object(o)
                                        for o in server.objects("ConfigMap", OP_NS))
            if a is not None}


def managers(obj: dict[str, Any]) -> set[str]:
    return {m["manager"] for m in obj["metadata"].get("managedFields") or []}


def test_tcp_ports_are_listeners_of_a_listener_set_per_cluster(api_server: FakeApiServer,
                                                               source: ClusterSource) -> None:
    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub"),
                         ray_cluster("c", "u", "uc", **{desired.EXTRA_TCP: "8000"})])
    before = api_server.get("Gateway", "infra", "shared")
    report = reconciler(source).run_pass()
    assert report.errors == [] and report.exposed == 3
    ports = ports_held(api_server)
    assert sorted(ports) == ["t/a", "t/b", "u/c"] and len(set(ports.values())) == 3

    for key in ("t/a", "t/b"):
        ns, name = key.split("/")
        ls = api_server.get("ListenerSet", ns, f"raygate-{name}-listeners")
        assert ls["spec"]["parentRef"] == {"group": GW, "kind": "Gateway", "name": "shared",
                                           "namespace": "infra"}
        assert [(l["name"], l["protocol"], l["port"]) for l in ls["spec"]["listeners"]] == \
            [("ray-client", "TCP", ports[key])]
        assert ls["spec"]["listeners"][0]["allowedRoutes"]["namespaces"] == {"from": "Same"}
        route = api_server.get("TCPRoute", ns, f"raygate-{name}-ray-client")
        assert route["spec"]["parentRefs"] == [{"group": GW, "kind": "ListenerSet",
                                                "name": f"raygate-{name}-listeners",
                                                "sectionName": "ray-client"}]
        assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == f"{name}-head-svc"
        http = api_server.get("HTTPRoute", ns, f"raygate-{name}-dashboard")
        # HTTP attaches to the shared Gateway's own listener (found by what it admits).
        assert http["spec"]["parentRefs"][0]["sectionName"] == "web"
        notes = api_server.get("RayCluster", ns, name)["metadata"]["annotations"]
        assert notes[desired.CLIENT_ADDRESS] == f"ray://gw.example.com:{ports[key]}"
        assert notes[desired.STATUS] == "exposed"
    # The extra TCP port has its own external port, listener and route.
    c_ls = api_server.get("ListenerSet", "u", "raygate-c-listeners")["spec"]["listeners"]
    extra = [a for a in (alloc.from_object(o) for o in api_server.objects("ConfigMap", OP_NS))
             if a is not None and a.purpose == "tcp-8000"]
    assert {l["name"] for l in c_ls} == {"ray-client", f"tcp-{extra[0].port}"}
    assert api_server.get("TCPRoute", "u", f"raygate-c-tcp-{extra[0].port}")[
        "spec"]["rules"][0]["backendRefs"][0]["port"] == 8000

    # The shared Gateway is never written.
    after = api_server.get("Gateway", "infra", "shared")
    assert after["spec"] == before["spec"] and managers(after) == {"helm"}
    # A second pass has nothing to write.
    again = reconciler(source)
    again.run_pass()
    assert again.run_pass().writes == 0


def test_a_gateway_that_does_not_admit_the_listener_set_is_reported(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    api_server.add(shared_gateway({"from": "Selector", "selector": {
        "matchLabels": {"gateway-access": "ray"}}}), manager="helm")
    api_server.add(ray_cluster("a", "t", "ua"))
    r = reconciler(source)
    report = r.run_pass()
    assert report.exposed == 1
    live = api_server.get("RayCluster", "t", "a")["metadata"]["annotations"]
    assert live[desired.STATUS].startswith("exposed without its TCP ports: Gateway infra/shared "
                                           "does not accept ListenerSets from namespace t")
    assert desired.CLIENT_ADDRESS not in live
    assert desired.DASHBOARD_URL in live  # HTTP attaches to the Gateway's own listener
    assert api_server.objects("ListenerSet", "t") == [] and api_server.objects("TCPRoute", "t") == []
    events = [e for e in api_server.objects("Event", "t") if e["reason"] == "TcpPortsNotExposed"]
    assert len(events) == 1 and events[0]["type"] == "Warning"
    assert "allowedListeners" in events[0]["message"]
    # The port stays held (never moved): once the namespace is admitted, it is the one exposed.
    port = ports_held(api_server)["t/a"]
    api_server.patch("Namespace", "", "t", {"metadata": {"labels": {"gateway-access": "ray"}}})
    r.run_pass()
    assert ports_held(api_server)["t/a"] == port
    ls = api_server.get("ListenerSet", "t", "raygate-a-listeners")
    assert [l["port"] for l in ls["spec"]["listeners"]] == [port]
    live = api_server.get("RayCluster", "t", "a")["metadata"]["annotations"]
    assert live[desired.STATUS] == "exposed"
    assert live[desired.CLIENT_ADDRESS] == f"ray://gw.example.com:{port}"
    # The Gateway's owner takes it back: the listeners and TCP routes go, the port stays.
    api_server.add(shared_gateway(None), manager="helm")
    r.run_pass()
    assert api_server.objects("ListenerSet", "t") == [] and api_server.objects("TCPRoute", "t") == []
    assert ports_held(api_server)["t/a"] == port


def test_a_missing_gateway_is_reported_not_crashed(api_server: FakeApiServer,
                                                   source: ClusterSource) -> None:
    api_server.delete("Gateway", "infra", "shared")
    api_server.add(ray_cluster("a", "t", "ua"))
    reconciler(source).run_pass()
    live = api_server.get("RayCluster", "t", "a")["metadata"]["annotations"]
    assert "the shared Gateway infra/shared (gatewayApi.gatewayName) was not found" in \
        live[desired.STATUS]
    assert api_server.objects("ListenerSet", "t") == []


def test_the_gateways_own_ports_are_never_allocated(api_server: FakeApiServer,
                                                    source: ClusterSource) -> None:
    api_server.add(shared_gateway({"from": "All"}, [
        {"name": "db", "protocol": "TCP", "port": 30001},
        {"name": "db2", "protocol": "TCP", "port": 30002}]), manager="helm")
    api_server.add(ray_cluster("a", "t", "ua"))
    reconciler(source).run_pass()
    assert ports_held(api_server) == {"t/a": 30003}


def test_path_routing_without_an_http_listener_is_refused(api_server: FakeApiServer,
                                                          source: ClusterSource) -> None:
    """Every cluster's ListenerSet would add the same port-80 listener: all but one Conflicted."""
    gw = shared_gateway({"from": "All"})
    gw["spec"]["listeners"][0]["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    api_server.add(gw, manager="helm")
    api_server.add(ray_cluster("a", "t", "ua"))
    report = reconciler(source).run_pass()
    assert report.exposed == 0
    status = api_server.get("RayCluster", "t", "a")["metadata"]["annotations"][desired.STATUS]
    assert status.startswith("not exposed: the shared Gateway infra/shared has no HTTP listener")
    assert api_server.objects("HTTPRoute", "t") == [] and api_server.objects("ListenerSet", "t") == []
    # Host routing gives each cluster its own hostname: its HTTP listener is its own.
    reconciler(source, routing={"mode": "host", "domain": "ray.example.com"}).run_pass()
    ls = api_server.get("ListenerSet", "t", "raygate-a-listeners")["spec"]["listeners"]
    assert {(l["name"], l["protocol"], l.get("hostname")) for l in ls} == {
        ("http", "HTTP", "a.t.ray.example.com"), ("ray-client", "TCP", None)}


def test_removal_leaves_nothing_behind(api_server: FakeApiServer, source: ClusterSource) -> None:
    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub"),
                         ray_cluster("c", "t", "uc")])
    r = reconciler(source)
    r.run_pass()
    assert len(api_server.objects("ListenerSet", "t")) == 3
    # a: the annotation is removed; b: deleted (the finalizer holds it); c: no longer asks for
    # the Ray Client (a ListenerSet needs at least one listener: it is deleted, not emptied).
    api_server.patch("RayCluster", "t", "a", {"metadata": {"annotations": {desired.EXPOSE: None}}})
    source.client.delete(source.resource_for({"apiVersion": "ray.io/v1", "kind": "RayCluster"}),
                         "b", namespace="t")
    api_server.patch("RayCluster", "t", "c",
                     {"metadata": {"annotations": {desired.EXPOSE: "dashboard"}}})
    report = r.run_pass()
    assert report.errors == []
    assert api_server.objects("ListenerSet", "t") == [] and api_server.objects("TCPRoute", "t") == []
    assert [o["metadata"]["name"] for o in api_server.objects("HTTPRoute", "t")] == \
        ["raygate-c-dashboard"]
    assert ports_held(api_server) == {}
    assert api_server.get("RayCluster", "t", "b") is None
    assert managers(api_server.get("Gateway", "infra", "shared")) == {"helm"}


def test_metallb_the_gateways_own_address_is_what_users_are_told(api_server: FakeApiServer,
                                                                 source: ClusterSource) -> None:
    """placement.mode metallb on this backend: the address is the shared Gateway's
    (``status.addresses``, reported by the implementation once MetalLB gave its Service one);
    the operator still only reads the Gateway."""
    gw = shared_gateway({"from": "All"})
    gw["status"] = {"addresses": [{"type": "IPAddress", "value": "192.168.10.60"}]}
    api_server.add(gw, manager="helm")
    api_server.add(ray_cluster("a", "t", "ua"))
    r = reconciler(source, placement={"mode": "metallb"}, gatewayAddress=None)
    report = r.run_pass()
    assert report.placement is not None and report.placement.state == "ok"
    port = ports_held(api_server)["t/a"]
    notes = api_server.get("RayCluster", "t", "a")["metadata"]["annotations"]
    assert notes[desired.CLIENT_ADDRESS] == f"ray://192.168.10.60:{port}"
    assert not [r for r in api_server.requests
                if r.kind == "Gateway" and r.method not in ("GET",)]


def test_passes_fed_by_the_watches_read_no_route_and_write_nothing_twice(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """With the watches' cache (HTTPRoute, TCPRoute at the version served, ListenerSet, port
    records), passes between repairs LIST none of them; a pass right after the one that wrote
    (the watches may not have delivered those writes yet) writes nothing again; removing a
    cluster deletes its ListenerSet and routes once."""
    import threading
    import time

    from raygate.operator.cache import WatchCache
    from raygate.operator.loop import lightkube_watch

    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "u", "ub")])
    cache, stop = WatchCache(), threading.Event()
    r = reconciler(source)
    r.cache = cache
    watched = r.watched()
    assert {w.kind for w in watched if not w.pokes} == \
        {"ConfigMap", "HTTPRoute", "TCPRoute", "ListenerSet"}
    for w in watched:
        threading.Thread(target=lightkube_watch(source, cache), daemon=True,
                         args=(w.api_version, w.kind, lambda: None, stop),
                         kwargs={"namespace": w.namespace, "labels": w.label_selector}).start()
    try:
        deadline = time.monotonic() + 10
        while not cache.synced(w.kind for w in watched):
            assert time.monotonic() < deadline, "the watches did not list"
            time.sleep(0.02)
        lists = {k: api_server.count("list", k) for k in ("HTTPRoute", "TCPRoute",
                                                          "ListenerSet", "ConfigMap")}
        first = r.run_pass(fresh=False)
        assert first.errors == [] and first.exposed == 2 and first.routes_written == 6
        assert r.run_pass(fresh=False).writes == 0
        api_server.delete("RayCluster", "u", "b")
        deadline = time.monotonic() + 10
        while any(c["metadata"]["name"] == "b" for c in cache.objects(["RayCluster"])):
            assert time.monotonic() < deadline, "b's deletion not in the cache"
            time.sleep(0.02)
        gone = r.run_pass(fresh=False)
        assert gone.routes_deleted == 3 and len(gone.released) == 1
        assert r.run_pass(fresh=False).writes == 0
        assert api_server.objects("ListenerSet", "u") == []
        assert {k: api_server.count("list", k) for k in lists} == lists
    finally:
        stop.set()
