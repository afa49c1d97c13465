"""The operator against the fake API server, through the real lightkube client: ports are
unique and stable, restarts and concurrent writers converge, foreign entries survive, and
nothing is left behind."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from raygate.operator import allocations as alloc
from raygate.operator import desired, settings
from raygate.operator.reconciler import Api, Reconciler
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer
from tests.operator.test_pure import ray_cluster

OP_NS = "raygate-system"


@pytest.fixture
def api_server(fake_api: FakeApiServer) -> FakeApiServer:
    world.install(fake_api)
    fake_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OP_NS}})
    # Another tool's entry in the shared map: no reconcile may ever drop it.
    fake_api.add({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "tcp-services", "namespace": world.CTRL_NS},
                  "data": {"5432": "db/postgres:5432"}}, manager="helm")
    return fake_api


def reconciler(source: ClusterSource, **overrides: Any) -> Reconciler:
    return Reconciler(Api(source), settings.load(None, {"portRange": {"first": 30001,
                                                                      "last": 30999},
                                                        **overrides}))


def held(server: FakeApiServer) -> list[alloc.Allocation]:
    return sorted(a for a in (alloc.from_object(o) for o in server.objects("ConfigMap", OP_NS))
                  if a is not None)


def tcp_data(server: FakeApiServer) -> dict[str, str]:
    return server.get("ConfigMap", world.CTRL_NS, "tcp-services")["data"]


def assert_consistent(server: FakeApiServer, clusters: list[str]) -> None:
    """One port per exposed cluster, no port twice, the map says exactly that."""
    records = held(server)
    ports = [a.port for a in records]
    assert len(ports) == len(set(ports))
    by_cluster = {a.cluster: a.port for a in records}
    assert sorted(by_cluster) == sorted(clusters) and len(records) == len(clusters)
    data = tcp_data(server)
    assert data.pop("5432") == "db/postgres:5432"
    assert data == {str(p): f"{c.split('/')[0]}/{c.split('/')[1]}-head-svc:10001"
                    for c, p in by_cluster.items()}


def test_two_hundred_clusters_at_once_get_unique_ports(api_server: FakeApiServer,
                                                       source: ClusterSource) -> None:
    names = [f"team{i % 7}/c{i:03d}" for i in range(200)]
    api_server.add_many(ray_cluster(n.split("/")[1], n.split("/")[0], f"uid-{n}") for n in names)
    r = reconciler(source)
    report = r.run_pass()
    assert report.exposed == 200 and len(report.allocated) == 200 and not report.errors
    assert report.routed_at is not None  # what bench/operator_scale.py times
    assert_consistent(api_server, names)
    live = api_server.get("RayCluster", "team3", "c003")
    port = next(a.port for a in held(api_server) if a.cluster == "team3/c003")
    assert live["metadata"]["annotations"][desired.CLIENT_ADDRESS] == f"ray://GATEWAY:{port}"
    assert desired.FINALIZER in live["metadata"]["finalizers"]
    # Shared objects once per pass, not once per cluster.
    assert api_server.count("patch", "ConfigMap") == 1  # the tcp-services map, once
    # A second pass has nothing to do and moves nothing.
    before = held(api_server)
    again = r.run_pass()
    assert again.writes == 0 and held(api_server) == before


def test_restart_after_a_crash_mid_pass_converges(api_server: FakeApiServer,
                                                  source: ClusterSource) -> None:
    names = [f"t/c{i}" for i in range(30)]
    api_server.add_many(ray_cluster(n[2:], "t", f"u{n}") for n in names)

    class Crash(Exception):
        pass

    class DiesAfter(Api):
        """The process dies after N writes (what kill -9 does to a pass)."""
        def __init__(self, source: ClusterSource, budget: int) -> None:
            super().__init__(source)
            self.budget = budget

        def _spend(self) -> None:
            self.budget -= 1
            if self.budget < 0:
                raise Crash()

        def create(self, obj: dict[str, Any]) -> bool:
            self._spend()
            return super().create(obj)

        def apply(self, obj: dict[str, Any], *, force: bool = False) -> None:
            self._spend()
            super().apply(obj, force=force)

    s = settings.load(None, {})
    for budget in (7, 45):
        with pytest.raises(Crash):
            Reconciler(DiesAfter(source, budget), s).run_pass()
    before = {a.cluster: a.port for a in held(api_server)}
    assert before  # some ports were allocated before the crash
    Reconciler(Api(source), s).run_pass()  # the restarted operator
    assert_consistent(api_server, names)
    after = {a.cluster: a.port for a in held(api_server)}
    assert all(after[c] == p for c, p in before.items())  # never moved


def test_two_replicas_writing_at_once_never_share_a_port(api_server: FakeApiServer) -> None:
    names = [f"t/c{i}" for i in range(40)]
    api_server.add_many(ray_cluster(n[2:], "t", f"u{n}") for n in names)
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            with ClusterSource(api_server.kubeconfig_path) as src:
                reconciler(src).run_pass()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Without leader election both may run: a port is still never held twice (the name is
    # the lock); a cluster may end up with two ports, which the next pass repairs.
    ports = [a.port for a in held(api_server)]
    assert len(ports) == len(set(ports))
    with ClusterSource(api_server.kubeconfig_path) as src:
        report = reconciler(src).run_pass()
    assert all(why.startswith("duplicate") for _, why in report.released)
    assert_consistent(api_server, names)


def test_unannotating_and_deleting_leave_nothing_behind(api_server: FakeApiServer,
                                                        source: ClusterSource) -> None:
    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub"),
                         ray_cluster("c", "t", "uc")])
    r = reconciler(source)
    r.run_pass()
    assert len(held(api_server)) == 3
    assert api_server.get("Ingress", "t", "raygate-a-dashboard") is not None

    # a: the annotation is removed.
    api_server.patch("RayCluster", "t", "a", {"metadata": {"annotations": {desired.EXPOSE: None}}})
    # b: deleted while we hold a finalizer: the API server marks it and waits for us.
    # (through the API, as kubectl delete does: finalizers hold it)
    source.client.delete(source.resource_for({"apiVersion": "ray.io/v1", "kind": "RayCluster"}),
                         "b", namespace="t")
    assert api_server.get("RayCluster", "t", "b")["metadata"]["deletionTimestamp"]
    # c: vanished while the operator was down (its finalizer was removed by hand).
    api_server.patch("RayCluster", "t", "c", {"metadata": {"finalizers": None}})
    api_server.delete("RayCluster", "t", "c")
    assert api_server.get("RayCluster", "t", "c") is None
    report = r.run_pass()
    assert sorted(a.cluster for a, _ in report.released) == ["t/a", "t/b", "t/c"]
    assert held(api_server) == []
    assert tcp_data(api_server) == {"5432": "db/postgres:5432"}
    assert api_server.objects("Ingress", "t") == []
    a = api_server.get("RayCluster", "t", "a")
    assert desired.FINALIZER not in (a["metadata"].get("finalizers") or [])
    assert desired.CLIENT_ADDRESS not in a["metadata"]["annotations"]
    # Our finalizer was the last one: the API server finished deleting b.
    assert api_server.get("RayCluster", "t", "b") is None


def test_unauthenticated_cluster_is_refused_with_an_event(api_server: FakeApiServer,
                                                          source: ClusterSource) -> None:
    api_server.add(ray_cluster("open", "t", "uo", auth=None))
    report = reconciler(source).run_pass()
    assert report.exposed == 0 and held(api_server) == []
    live = api_server.get("RayCluster", "t", "open")
    assert live["metadata"]["annotations"][desired.STATUS].startswith("not exposed:")
    events = api_server.objects("Event", "t")
    assert [e["reason"] for e in events] == ["NotExposed"]
    assert events[0]["type"] == "Warning" and events[0]["involvedObject"]["name"] == "open"
    assert api_server.objects("Ingress", "t") == []


def test_exhausted_range_is_reported_not_crashed(api_server: FakeApiServer,
                                                 source: ClusterSource) -> None:
    api_server.add_many([ray_cluster(n, "t", f"u{n}") for n in ("a", "b", "c")])
    report = reconciler(source, portRange={"first": 30001, "last": 30002}).run_pass()
    assert len(report.allocated) == 2
    assert any("no free port" in e for e in report.errors)
    assert [e["reason"] for e in api_server.objects("Event", "t")].count("PortRangeExhausted") == 1


def test_ray_service_is_exposed_through_its_stable_head_service(api_server: FakeApiServer,
                                                                source: ClusterSource) -> None:
    rs = ray_cluster("svc", "t", "us")
    rs["kind"] = "RayService"
    rs["spec"] = {"rayClusterConfig": rs["spec"]}
    api_server.add(rs)
    reconciler(source).run_pass()
    port = held(api_server)[0].port
    assert tcp_data(api_server)[str(port)] == "t/svc-head-svc:10001"


def test_gateway_node_failover_moves_the_label_and_the_addresses(api_server: FakeApiServer,
                                                                  source: ClusterSource) -> None:
    from tests.operator.test_pure import node
    api_server.add(node("gw-1", "192.168.1.33", **{"raygate.io/gateway": "true"}))
    api_server.add(node("gw-2", "192.168.1.34", **{"raygate.io/gateway-candidate": "true"}))
    api_server.add(ray_cluster("a", "t", "ua"))
    r = reconciler(source, placement={"mode": "pinned-node", "label": "raygate.io/gateway=true",
                                      "failoverLabel": "raygate.io/gateway-candidate=true"})
    first = r.run_pass()
    assert first.placement is not None and first.placement.state == "ok"
    port = held(api_server)[0].port
    live = api_server.get("RayCluster", "t", "a")
    assert live["metadata"]["annotations"][desired.CLIENT_ADDRESS] == f"ray://192.168.1.33:{port}"

    # The gateway node goes NotReady: the label moves, users are told the new address.
    api_server.add(node("gw-1", "192.168.1.33", ready=False, **{"raygate.io/gateway": "true"}))
    moved = r.run_pass()
    assert moved.placement is not None and moved.placement.state == "move"
    assert "raygate.io/gateway" not in api_server.get("Node", "", "gw-1")["metadata"]["labels"]
    assert api_server.get("Node", "", "gw-2")["metadata"]["labels"]["raygate.io/gateway"] == "true"
    live = api_server.get("RayCluster", "t", "a")
    assert live["metadata"]["annotations"][desired.CLIENT_ADDRESS] == f"ray://192.168.1.34:{port}"
    assert held(api_server)[0].port == port  # the port never moves
    reasons = [e["reason"] for e in api_server.objects("Event", "default")]
    assert reasons == ["GatewayMoved"]
    assert r.run_pass().placement.state == "ok"  # type: ignore[union-attr]


def test_metallb_address_changes_reach_users_and_ports_stay(api_server: FakeApiServer,
                                                            source: ClusterSource) -> None:
    """placement.mode metallb: users are told the address MetalLB assigned to the controller's
    Service; when it changes they are told the new one (GatewayMoved on the Service); when
    there is none they keep the last one and an Event says why, once."""
    def controller_service(*ips: str) -> dict:
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "ingress-nginx-controller", "namespace": world.CTRL_NS},
                "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
                "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
    api_server.add(controller_service("192.168.10.50"))
    api_server.add(ray_cluster("a", "t", "ua"))
    r = reconciler(source, placement={"mode": "metallb"})
    assert r.run_pass().placement.state == "ok"  # type: ignore[union-attr]
    port = held(api_server)[0].port

    def told() -> str:
        return api_server.get("RayCluster", "t", "a")["metadata"]["annotations"][
            desired.CLIENT_ADDRESS]
    assert told() == f"ray://192.168.10.50:{port}"

    api_server.add(controller_service("192.168.10.51"))
    moved = r.run_pass()
    assert moved.placement is not None and moved.placement.state == "move"
    assert told() == f"ray://192.168.10.51:{port}"
    assert held(api_server)[0].port == port

    api_server.add(controller_service())
    for _ in range(2):
        assert r.run_pass().placement.state == "lost"  # type: ignore[union-attr]
    assert told() == f"ray://192.168.10.51:{port}"
    events = sorted((e["reason"], e["involvedObject"]["kind"])
                    for e in api_server.objects("Event", world.CTRL_NS))
    assert events == [("GatewayMoved", "Service"), ("GatewayUnreachable", "Service")]


def test_probe_results_are_written_where_users_look(api_server: FakeApiServer,
                                                    source: ClusterSource) -> None:
    import base64
    import dataclasses
    from http.server import ThreadingHTTPServer

    from raygate.operator import probing
    from raygate.probe import probe
    from tests.probe.test_probe_units import TOKEN, FakeDashboard, closed_port

    class Gateway(FakeDashboard):
        """The gateway as the operator's routes make it: the Dashboard under /ray/t/a/."""
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/ray/t/a":
                return self._send(301, headers={"Location": "/ray/t/a/"})
            if self.path.startswith("/ray/t/a/"):
                self.path = "/ray/" + self.path[len("/ray/t/a/"):]
            return super().do_GET()

    handler = type("H", (Gateway,), {"mode": "healthy"})
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        api_server.add(ray_cluster("a", "t", "ua", expose="dashboard,jobs"))
        api_server.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "t"},
                        "data": {"auth_token": base64.b64encode(TOKEN.encode()).decode()}})
        address = f"127.0.0.1:{gateway.server_address[1]}"
        r = reconciler(source, gatewayAddress=address, probe={"enabled": True})
        ports = {"gcs_port": closed_port(), "agent_port": closed_port()}
        r.probe_fn = lambda opts: probe(dataclasses.replace(opts, **ports))
        first = r.run_pass()
        assert first.probes["t/a"] == (True, "ok (6 checks)")
        notes = api_server.get("RayCluster", "t", "a")["metadata"]["annotations"]
        assert notes[probing.PROBE_RESULT] == "ok (6 checks)" and probing.PROBE_TIME in notes

        handler.mode = "broken-assets"  # the blank page, after the next interval
        r.clock = lambda: 10 ** 10
        second = r.run_pass()
        ok, text = second.probes["t/a"]
        assert not ok and text.startswith("failed: dashboard:") and "blank page" in text
        reasons = [e["reason"] for e in api_server.objects("Event", "t")]
        assert reasons.count("ProbeFailed") == 1 and reasons.count("ProbeSucceeded") == 1

        # ...and in the metrics: the last result and when, per cluster, while it is exposed.
        from raygate.operator.loop import Operator
        from raygate.operator.metrics import Metrics
        metrics = Metrics()
        recorder = Operator(r, None, metrics)  # type: ignore[arg-type] - only records
        recorder._record(first)
        assert 'raygate_operator_probe_success{namespace="t",name="a"} 1\n' in metrics.render()
        recorder._record(second)
        text = metrics.render()
        assert 'raygate_operator_probe_success{namespace="t",name="a"} 0\n' in text
        assert f'raygate_operator_probe_timestamp_seconds{{namespace="t",name="a"}} {10 ** 10}\n' \
            in text
        api_server.patch("RayCluster", "t", "a",
                         {"metadata": {"annotations": {desired.EXPOSE: None}}})
        recorder._record(r.run_pass())
        assert metrics.labelled("raygate_operator_probe_success") == {}
    finally:
        gateway.shutdown()


def test_ports_another_tool_maps_are_never_claimed(api_server: FakeApiServer,
                                                   source: ClusterSource) -> None:
    api_server.patch("ConfigMap", world.CTRL_NS, "tcp-services",
                     {"data": {"30001": "db/other:5432"}})
    api_server.add(ray_cluster("a", "t", "ua"))
    reconciler(source).run_pass()
    assert [a.port for a in held(api_server)] == [30002]
    assert tcp_data(api_server)["30001"] == "db/other:5432"


def test_kuberay_own_ingress_and_upgrade_gateway_are_never_touched(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """KubeRay writes its own Ingress (``enableIngress``), the RayCluster's status, and for a
    RayService's incremental upgrade its own Gateway and HTTPRoute (ray-operator
    controllers/ray/utils/util.go, rayservice_controller.go, v1.4+). The operator writes beside
    them with its own names and field manager, never into them."""
    cluster = ray_cluster("a", "t", "ua")
    cluster["spec"]["headGroupSpec"]["enableIngress"] = True
    cluster["status"] = {"state": "ready", "head": {"serviceIP": "10.0.0.9"}}
    api_server.add(cluster, manager="kuberay-operator")
    kuberay = "kuberay-operator"
    api_server.add({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": {"name": "a-head-ingress", "namespace": "t",
                                 "labels": {"ray.io/cluster": "a"}},
                    "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                        "path": "/a/(.*)", "pathType": "ImplementationSpecific",
                        "backend": {"service": {"name": "a-head-svc",
                                                "port": {"number": 8265}}}}]}}]}},
                   manager=kuberay)
    api_server.add({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                    "metadata": {"name": "svc-gateway", "namespace": "t"},
                    "spec": {"gatewayClassName": "istio", "listeners": [
                        {"name": "http", "port": 80, "protocol": "HTTP"}]}}, manager=kuberay)
    api_server.add({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": {"name": "svc-httproute", "namespace": "t"},
                    "spec": {"parentRefs": [{"name": "svc-gateway"}], "rules": [{
                        "backendRefs": [{"name": "svc-serve-svc", "port": 8000, "weight": 100}]}]}},
                   manager=kuberay)
    theirs = {(kind, name): api_server.get(kind, "t", name)
              for kind, name in (("Ingress", "a-head-ingress"), ("Gateway", "svc-gateway"),
                                 ("HTTPRoute", "svc-httproute"))}
    r = reconciler(source)
    r.run_pass()
    r.run_pass()
    for (kind, name), before in theirs.items():
        assert api_server.get(kind, "t", name) == before, f"{kind} {name} was written"
    live = api_server.get("RayCluster", "t", "a")
    assert live["spec"] == cluster["spec"] and live["status"] == cluster["status"]
    managers = {e["manager"] for e in live["metadata"]["managedFields"]}
    assert kuberay in managers and len(managers) == 2
    ours = [e for e in live["metadata"]["managedFields"] if e["manager"] != kuberay]
    owned = ours[0]["fieldsV1"]
    assert set(owned) == {"f:metadata"}, "the operator owns fields outside metadata"
    assert set(owned["f:metadata"]) <= {"f:annotations", "f:finalizers"}
    assert api_server.get("Ingress", "t", "raygate-a-dashboard") is not None


def test_a_route_changed_behind_our_back_is_restored(api_server: FakeApiServer,
                                                     source: ClusterSource) -> None:
    """Unchanged passes skip comparing a route whose live version was already found right;
    a change by someone else is a new version, compared and restored on the next pass. A
    changed cluster is planned again (its routes follow its annotation)."""
    api_server.add(ray_cluster("a", "t", "ua", expose="dashboard,serve"))
    r = reconciler(source)
    r.run_pass()
    r.run_pass()
    assert r.run_pass().writes == 0
    want = api_server.get("Ingress", "t", "raygate-a-dashboard")["spec"]
    api_server.patch("Ingress", "t", "raygate-a-dashboard",
                     {"spec": {"rules": [{"http": {"paths": [{
                         "path": "/stolen", "pathType": "Prefix", "backend": {"service": {
                             "name": "evil", "port": {"number": 80}}}}]}}]}})
    report = r.run_pass()
    assert report.routes_written == 1
    assert api_server.get("Ingress", "t", "raygate-a-dashboard")["spec"] == want
    api_server.patch("RayCluster", "t", "a",
                     {"metadata": {"annotations": {desired.EXPOSE: "dashboard"}}})
    report = r.run_pass()
    assert report.routes_deleted == 1
    assert api_server.get("Ingress", "t", "raygate-a-serve") is None


def test_new_settings_plan_every_cluster_again(api_server: FakeApiServer,
                                               source: ClusterSource) -> None:
    """Plans are kept between passes only while the settings are the same: routing switched
    from path- to host-based rewrites the unchanged cluster's routes."""
    api_server.add(ray_cluster("a", "t", "ua"))
    r = reconciler(source)
    r.run_pass()
    assert r.run_pass().writes == 0
    r.settings = settings.load(None, {"portRange": {"first": 30001, "last": 30999},
                                      "routing": {"mode": "host", "domain": "ray.example.com"}})
    assert r.run_pass().routes_written >= 1
    rules = api_server.get("Ingress", "t", "raygate-a-dashboard")["spec"]["rules"]
    assert [rule.get("host") for rule in rules] == ["a.t.ray.example.com"]


def test_while_clusters_wait_a_pass_routes_first_and_a_later_pass_tells(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """Routes before what users are told, across passes: with more changes queued the pass
    ends once ports, tcp-services and routes are written; the next pass writes annotations,
    finalizer and one Event each; and telling waits no longer than ``tell_delay``."""
    names = [f"t/w{i}" for i in range(3)]
    api_server.add_many(ray_cluster(n[2:], "t", f"u{n}") for n in names)
    r = reconciler(source)
    r.tell_later_from = 3  # a burst: three clusters routed in one pass
    first = r.run_pass(more_waiting=lambda: True)
    assert first.told_later and len(first.allocated) == 3 and first.told == []
    assert_consistent(api_server, names)
    assert len(api_server.objects("Ingress", "t")) == 6  # routed
    for n in names:
        meta = api_server.get("RayCluster", "t", n[2:])["metadata"]
        assert desired.STATUS not in (meta.get("annotations") or {})
        assert desired.FINALIZER not in (meta.get("finalizers") or [])
    assert api_server.objects("Event", "t") == []  # never before the routes
    second = r.run_pass()
    assert not second.told_later and sorted(second.told) == names and second.allocated == []
    for n in names:
        meta = api_server.get("RayCluster", "t", n[2:])["metadata"]
        assert meta["annotations"][desired.STATUS] == "exposed"
        assert desired.FINALIZER in meta["finalizers"]
    assert [e["reason"] for e in api_server.objects("Event", "t")] == ["Exposed"] * 3
    assert r.run_pass().writes == 0

    # However much keeps arriving, users are told within tell_delay of the first pass left.
    # Fewer than a burst (a steady arrival rate): told in the pass that routes them.
    api_server.add_many(ray_cluster(n, "t", f"u-{n}") for n in ("s1", "s2"))
    steady = r.run_pass(more_waiting=lambda: True)
    assert not steady.told_later and sorted(steady.told) == ["t/s1", "t/s2"]

    r.tell_delay, r.tell_later_from = 0.3, 1
    api_server.add(ray_cluster("late", "t", "u-late"))
    assert r.run_pass(more_waiting=lambda: True).told_later
    api_server.add(ray_cluster("later", "t", "u-later"))
    assert r.run_pass(more_waiting=lambda: True).told_later  # within 0.3 s of the first
    time.sleep(0.3)
    last = r.run_pass(more_waiting=lambda: True)
    assert not last.told_later and sorted(last.told) == ["t/late", "t/later"]


def test_a_pass_after_telling_renders_no_cluster_again_unless_another_writer_changed_it(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """Our own annotation patch gives the cluster a new resourceVersion but keeps its plan;
    a change by anybody else (even one that lands with our patch) makes a new plan."""
    api_server.add_many(ray_cluster(n, "t", f"u{n}") for n in ("p", "q"))
    r = reconciler(source)
    assert sorted(r.run_pass().told) == ["t/p", "t/q"]
    plans = {k: v[1] for k, v in r._plan_cache.items()}
    assert r.run_pass().writes == 0
    assert all(r._plan_cache[k][1] is p for k, p in plans.items())  # none rendered again

    # Another writer's change between our read and our patch is in what the patch returns:
    # the plan made before it is not carried over.
    live = api_server.get("RayCluster", "t", "p")
    stored = {**live, "metadata": {**live["metadata"], "resourceVersion": "999999",
                                   "labels": {"team": "new"}}}
    r._keep_plans(live, stored)
    assert r._plan_cache[("t/p", False)][0][1] == live["metadata"]["resourceVersion"]
    ours = {**live, "metadata": {**live["metadata"], "resourceVersion": "999999",
                                 "annotations": {**live["metadata"]["annotations"],
                                                 desired.STATUS: "changed"}}}
    r._keep_plans(live, ours)
    assert r._plan_cache[("t/p", False)][0][1] == "999999"
