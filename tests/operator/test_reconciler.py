"""The operator against the fake API server, through the real lightkube client: ports are
unique and stable, restarts and concurrent writers converge, foreign entries survive, and
nothing is left behind."""

from __future__ import annotations

import threading
from typing import Any, Iterator

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


@pytest.fixture
def source(api_server: FakeApiServer) -> Iterator[ClusterSource]:
    with ClusterSource(api_server.kubeconfig_path) as s:
        yield s


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
    b = api_server.get("RayCluster", "t", "b")
    b["metadata"]["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    api_server.add(b)
    # c: vanished while the operator was down (its finalizer was removed by hand).
    api_server.delete("RayCluster", "t", "c")
    report = r.run_pass()
    assert sorted(a.cluster for a, _ in report.released) == ["t/a", "t/b", "t/c"]
    assert held(api_server) == []
    assert tcp_data(api_server) == {"5432": "db/postgres:5432"}
    assert api_server.objects("Ingress", "t") == []
    a = api_server.get("RayCluster", "t", "a")
    assert desired.FINALIZER not in (a["metadata"].get("finalizers") or [])
    assert desired.CLIENT_ADDRESS not in a["metadata"]["annotations"]
    assert desired.FINALIZER not in (api_server.get("RayCluster", "t", "b")["metadata"]
                                     .get("finalizers") or [])


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
