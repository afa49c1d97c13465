"""The watch-fed cache of Ray clusters (raygate.operator.cache) against the fake API server,
through the real lightkube client: it follows the watch (and a 410 Gone's re-list), our own
patches are never read back stale, and passes fed by it converge exactly as LISTing ones."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import pytest

from raygate.operator import desired, settings
from raygate.operator.allocations import ALLOCATION_LABEL
from raygate.operator.cache import WatchCache
from raygate.operator.leader import LeaseElector, LightkubeLeaseApi
from raygate.operator.loop import Operator, lightkube_watch
from raygate.operator.metrics import Metrics
from raygate.operator.reconciler import PassReport, Reconciler, Api
from raygate.sources.cluster import ClusterSource
from tests.cluster import world
from tests.fakeapi.server import FakeApiServer
from tests.operator.test_pure import ray_cluster

OP_NS = "raygate-system"


@pytest.fixture
def api_server(fake_api: FakeApiServer) -> FakeApiServer:
    world.install(fake_api)
    fake_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OP_NS}})
    return fake_api


def until(check: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def rvs(cache: WatchCache) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in cache.objects(["RayCluster"])}


def live_rvs(server: FakeApiServer) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in server.objects("RayCluster")}


@pytest.fixture
def watched(api_server: FakeApiServer, source: ClusterSource) -> Iterator[WatchCache]:
    cache = WatchCache()
    stop = threading.Event()
    t = threading.Thread(target=lightkube_watch(source, cache), daemon=True,
                         args=("ray.io/v1", "RayCluster", lambda: None, stop))
    t.start()
    yield cache
    stop.set()


def test_the_cache_follows_the_watch(api_server: FakeApiServer, watched: WatchCache) -> None:
    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub")])
    until(lambda: watched.synced(["RayCluster"]) and rvs(watched) == live_rvs(api_server),
          "the cache to hold a and b")
    api_server.patch("RayCluster", "t", "a", {"metadata": {"labels": {"x": "1"}}})
    api_server.delete("RayCluster", "t", "b")
    until(lambda: rvs(watched) == live_rvs(api_server) and "b" not in rvs(watched),
          "the change to a and b's deletion")
    a = next(o for o in watched.objects(["RayCluster"]) if o["metadata"]["name"] == "a")
    assert a["metadata"]["labels"] == {"x": "1"} and a["kind"] == "RayCluster"


def test_a_410_gone_relists_into_the_cache(api_server: FakeApiServer,
                                           source: ClusterSource) -> None:
    api_server.add(ray_cluster("a", "t", "ua"))
    api_server.inject(410, verb="watch", kind="RayCluster", reason="Expired",
                      message="too old resource version")
    cache, stop = WatchCache(), threading.Event()
    threading.Thread(target=lightkube_watch(source, cache), daemon=True,
                     args=("ray.io/v1", "RayCluster", lambda: None, stop)).start()
    try:
        until(lambda: [r.status for r in api_server.requests if r.verb == "watch"][:1] == [410],
              "the 410")
        api_server.add(ray_cluster("b", "t", "ub"))
        until(lambda: watched_all(cache, api_server), "the re-listed, re-watched cache")
        lists = [r for r in api_server.requests if r.verb == "list" and r.kind == "RayCluster"]
        assert len(lists) >= 2  # listed again after the 410, not resumed from a lost version
    finally:
        stop.set()


def watched_all(cache: WatchCache, server: FakeApiServer) -> bool:
    return cache.synced(["RayCluster"]) and rvs(cache) == live_rvs(server)


def test_our_write_replaces_only_the_version_it_was_made_from() -> None:
    cache = WatchCache()

    def obj(rv: str, note: str) -> dict[str, Any]:
        return {"metadata": {"namespace": "t", "name": "a", "resourceVersion": rv,
                             "annotations": {"n": note}}}

    cache.replace("RayCluster", [obj("5", "read")])
    cache.wrote("RayCluster", "5", obj("6", "ours"))
    assert rvs(cache) == {"a": "6"}
    cache.apply("RayCluster", "MODIFIED", obj("7", "theirs"))
    cache.wrote("RayCluster", "6", obj("8", "late answer of ours"))  # the cache moved on
    assert cache.objects(["RayCluster"])[0]["metadata"]["annotations"] == {"n": "theirs"}
    cache.apply("RayCluster", "DELETED", obj("9", "gone"))
    cache.wrote("RayCluster", "7", obj("10", "ours, after the deletion"))
    assert cache.objects(["RayCluster"]) == []
    cache.unsync("RayCluster")
    assert not cache.synced(["RayCluster"])


def test_an_operator_fed_by_the_cache_lists_no_clusters_per_pass_and_tells_once(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """Passes after the first read the cache: no LIST of Ray clusters, port records or
    routes beyond the watches' own; each cluster is told once (one Exposed Event, no 409
    from reading its version from before our finalizer patch); deleting one leaves nothing."""
    api_server.add_many(ray_cluster(f"a{i}", "t", f"ua{i}") for i in range(5))
    cache = WatchCache()
    reports: list[PassReport] = []
    metrics = Metrics()
    s = settings.load(None, {"portRange": {"first": 30001, "last": 30999}})
    op = Operator(Reconciler(Api(source), s, cache=cache),
                  LeaseElector(LightkubeLeaseApi(source.client), OP_NS, "raygate-operator",
                               "only", retry_period=0.05),
                  metrics, resync_seconds=300, batch_window=0.02,
                  watch=lightkube_watch(source, cache), on_pass=reports.append)
    runner = threading.Thread(target=op.run, daemon=True)
    runner.start()
    try:
        until(lambda: len(api_server.objects("Ingress", "t")) == 10, "the first five routed")
        for i in range(5):
            api_server.add(ray_cluster(f"b{i}", "t", f"ub{i}"))
            time.sleep(0.03)
        until(lambda: all(desired.STATUS in (o["metadata"].get("annotations") or {})
                          for o in api_server.objects("RayCluster", "t"))
              and len(api_server.objects("RayCluster", "t")) == 10, "all ten told")
        time.sleep(0.3)  # the echo of our own patches: passes with nothing to do
        source.client.delete(source.resource_for({"apiVersion": "ray.io/v1",
                                                  "kind": "RayCluster"}), "a0", namespace="t")
        until(lambda: api_server.get("RayCluster", "t", "a0") is None, "a0 let go")
        until(lambda: len(api_server.objects("Ingress", "t")) == 18, "a0's routes removed")
    finally:
        op.stop()
        runner.join(10)
    assert metrics.get("raygate_operator_reconcile_errors_total") == 0
    exposed = [e["involvedObject"]["name"] for e in api_server.objects("Event", "t")
               if e["reason"] == "Exposed"]
    assert sorted(exposed) == sorted([f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)])
    cluster_lists = [r for r in api_server.requests
                     if r.verb == "list" and r.kind == "RayCluster"]
    # One by the watch, one by the leader's first (fresh) pass: none by the passes after it;
    # the same for the port records and the routes.
    assert len(cluster_lists) == 2 and len(reports) > 3
    assert api_server.count("list", "ConfigMap") == 2 and api_server.count("list", "Ingress") == 2
    ours = {o["metadata"]["name"] for o in api_server.objects("ConfigMap", OP_NS)
            if o["metadata"].get("labels", {}).get(ALLOCATION_LABEL) == "true"}
    assert len(ours) == 9


def test_a_pass_reads_back_its_own_patch_before_the_watch_delivers_it(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """The cache is fed by hand here and no watch event arrives between the passes (a slow
    watch): the second pass still sees its annotations and finalizer, so it neither tells
    again (a second Event) nor sends the finalizer patch with the old resourceVersion (409)."""
    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub")])
    api = Api(source)
    cache = WatchCache()
    for kind in ("RayCluster", "RayService", "RayJob"):
        cache.replace(kind, api.list("ray.io/v1", kind))
    r = Reconciler(api, settings.load(None, {"portRange": {"first": 30001, "last": 30999}}),
                   cache=cache)
    assert sorted(r.run_pass(fresh=False).told) == ["t/a", "t/b"]
    again = r.run_pass(fresh=False)
    assert again.writes == 0 and again.told == []
    assert len([e for e in api_server.objects("Event", "t") if e["reason"] == "Exposed"]) == 2
    assert rvs(cache)["a"] == api_server.get("RayCluster", "t", "a")["metadata"]["resourceVersion"]


# ---------------------------------------------------------------- port records and routes


def start_watches(source: ClusterSource, r: Reconciler, cache: WatchCache,
                  stop: threading.Event, **kw: Any) -> None:
    """The watches an operator runs for ``r`` (``Operator.start_watches``), without its loop."""
    for w in r.watched():
        threading.Thread(target=lightkube_watch(source, cache, **kw), daemon=True,
                         args=(w.api_version, w.kind, lambda: None, stop),
                         kwargs={"namespace": w.namespace, "labels": w.label_selector}).start()


def record_ports(server: FakeApiServer) -> dict[str, list[int]]:
    """cluster -> the ports its records hold, as the API server has them."""
    out: dict[str, list[int]] = {}
    for o in server.objects("ConfigMap", OP_NS):
        if (o["metadata"].get("labels") or {}).get(ALLOCATION_LABEL) == "true":
            out.setdefault(o["data"]["cluster"], []).append(int(o["data"]["port"]))
    return {k: sorted(v) for k, v in out.items()}


def cached_kinds(r: Reconciler) -> list[str]:
    return [w.kind for w in r.watched()]


def test_a_lagging_watch_never_makes_a_pass_claim_a_second_port(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """The port records' and routes' watches are synced, then deliver nothing for 4 s (their
    watch requests are held by the API server: the events come late, from its history).
    Passes in those 4 s read the cache: they see the records and routes they wrote
    themselves, so none claims a second port (which the repair would later undo by keeping
    the lowest: a moved port) nor writes a route again; deleting releases once."""
    api_server.add_many([ray_cluster("a", "t", "ua"), ray_cluster("b", "t", "ub")])
    s = settings.load(None, {"namespace": OP_NS,
                             "portRange": {"first": 30001, "last": 30999}})
    cache, stop = WatchCache(), threading.Event()
    r = Reconciler(Api(source), s, cache=cache)
    lag = 4.0
    api_server.stall(lag, verb="watch", kind="ConfigMap", times=1)
    api_server.stall(lag, verb="watch", kind="Ingress", times=1)
    start_watches(source, r, cache, stop)
    try:
        until(lambda: cache.synced(cached_kinds(r)), "every watch to list")
        started = time.monotonic()
        first = r.run_pass(fresh=False)
        assert len(first.allocated) == 2 and first.routes_written == 4
        held = record_ports(api_server)
        # The watches have delivered none of these writes: the cache shows them as expected.
        assert cache.pending("ConfigMap") == 2 and cache.pending("Ingress") == 4
        second = r.run_pass(fresh=False)
        assert second.allocated == [] and second.released == [] and second.writes == 0
        api_server.patch("RayCluster", "t", "a",
                         {"metadata": {"annotations": {desired.EXPOSE: None}}})
        until(lambda: desired.EXPOSE not in (next(
            c for c in cache.objects(["RayCluster"]) if c["metadata"]["name"] == "a")
            ["metadata"].get("annotations") or {}), "a's change in the cache")
        third = r.run_pass(fresh=False)
        assert [a.cluster for a, _ in third.released] == ["t/a"] and third.routes_deleted == 2
        fourth = r.run_pass(fresh=False)
        assert fourth.released == [] and fourth.routes_deleted == 0 and fourth.writes == 0
        assert time.monotonic() - started < lag, "the watches caught up: no lag was tested"
        # a's record and routes: now their deletions (the later write of each name) are
        # expected; b's creations still are.
        assert cache.pending("ConfigMap") == 2 and cache.pending("Ingress") == 4
        # The watches catch up: every write of ours delivered, the cache agrees with the API
        # server; nothing moves.
        until(lambda: cache.pending("ConfigMap") == cache.pending("Ingress") == 0,
              "the watches to deliver our writes", timeout=lag + 5)
        assert sorted(o["metadata"]["name"] for o in cache.objects(["Ingress"])) == \
            sorted(o["metadata"]["name"] for o in api_server.objects("Ingress"))
        assert [o["data"]["cluster"] for o in cache.objects(["ConfigMap"])] == ["t/b"]
        last = r.run_pass(fresh=False)
        assert last.allocated == [] and last.released == [] and last.writes == 0
        assert record_ports(api_server) == {"t/b": held["t/b"]}
        creates = [q for q in api_server.requests if q.verb == "create" and q.kind == "ConfigMap"]
        assert len(creates) == 2
    finally:
        stop.set()


def test_a_route_deleted_by_someone_else_is_written_again(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """A stale cache of routes may cost an idempotent apply or a 404, never a lost route:
    a route of ours deleted behind the operator's back is back after the next pass."""
    api_server.add(ray_cluster("a", "t", "ua"))
    s = settings.load(None, {"namespace": OP_NS, "portRange": {"first": 30001, "last": 30999}})
    cache, stop = WatchCache(), threading.Event()
    r = Reconciler(Api(source), s, cache=cache)
    start_watches(source, r, cache, stop)
    try:
        until(lambda: cache.synced(cached_kinds(r)), "every watch to list")
        assert r.run_pass(fresh=False).routes_written == 2
        until(lambda: len(cache.objects(["Ingress"])) == 2, "our routes in the cache")
        gone = api_server.objects("Ingress", "t")[0]["metadata"]["name"]
        api_server.delete("Ingress", "t", gone)
        until(lambda: len(cache.objects(["Ingress"])) == 1, "the deletion in the cache")
        again = r.run_pass(fresh=False)
        assert again.routes_written == 1 and api_server.get("Ingress", "t", gone) is not None
        assert r.run_pass(fresh=False).writes == 0
        # A foreign route (not labelled as ours) is neither cached nor touched.
        foreign = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": "theirs", "namespace": "t"},
                   "spec": {"rules": [{"host": "x.example.com"}]}}
        api_server.add(foreign)
        time.sleep(0.2)
        assert "theirs" not in {o["metadata"]["name"] for o in cache.objects(["Ingress"])}
        assert r.run_pass(fresh=False).writes == 0
        assert api_server.get("Ingress", "t", "theirs") is not None
    finally:
        stop.set()


def test_a_create_that_failed_lists_the_records_until_the_watch_lists_them_again(
        api_server: FakeApiServer, source: ClusterSource) -> None:
    """A record create that failed (a 500: it may or may not have been made) leaves the
    cache in doubt: passes LIST the records, until the watch's stream ends (its
    ``timeoutSeconds``) and it lists them again."""
    api_server.add(ray_cluster("a", "t", "ua"))
    s = settings.load(None, {"namespace": OP_NS, "portRange": {"first": 30001, "last": 30999}})
    cache, stop = WatchCache(), threading.Event()
    r = Reconciler(Api(source), s, cache=cache)
    start_watches(source, r, cache, stop)  # streams of 60 s: none ends during this test
    try:
        until(lambda: cache.synced(cached_kinds(r)), "every watch to list")
        api_server.inject(500, verb="create", kind="ConfigMap")
        with pytest.raises(Exception, match="etcdserver"):
            r.run_pass(fresh=False)
        assert not cache.synced(["ConfigMap"])
        lists = api_server.count("list", "ConfigMap")
        assert len(r.run_pass(fresh=False).allocated) == 1
        assert api_server.count("list", "ConfigMap") == lists + 1  # read with a LIST
        assert r.run_pass(fresh=False).writes == 0
    finally:
        stop.set()
    # A watch whose stream ends lists again when its kind was left in doubt, and only then.
    cache, stop = WatchCache(), threading.Event()
    start_watches(source, r, cache, stop, timeout_seconds=1)
    try:
        until(lambda: cache.synced(cached_kinds(r)), "every watch to list")
        lists = api_server.count("list", "ConfigMap")
        watches = api_server.count("watch", "ConfigMap")
        until(lambda: api_server.count("watch", "ConfigMap") > watches, "a stream's end")
        assert api_server.count("list", "ConfigMap") == lists  # watched again, not listed
        cache.unsync("ConfigMap")
        until(lambda: cache.synced(["ConfigMap"]), "the watch to list again", timeout=5)
        assert api_server.count("list", "ConfigMap") == lists + 1
        assert [o["data"]["cluster"] for o in cache.objects(["ConfigMap"])] == ["t/a"]
    finally:
        stop.set()


def test_an_expected_write_is_cleared_only_by_its_own_event() -> None:
    """Our record of port P for b, expected before the watch delivers it: late events of
    P's previous holder (a) do not clear it; b's own event does; a LIST made after our
    writes drops what it contradicts."""
    def record(cluster: str, uid: str) -> dict[str, Any]:
        return {"metadata": {"namespace": OP_NS, "name": "raygate-port-30001"},
                "data": {"port": "30001", "cluster": cluster, "uid": uid}}

    def shown() -> list[str]:
        return [o["data"]["cluster"] for o in cache.objects(["ConfigMap"])]

    cache = WatchCache()
    old, ours = record("t/a", "ua"), record("t/b", "ub")
    cache.replace("ConfigMap", [old])
    withdraw_old = cache.expect("ConfigMap", ("raygate-system", "raygate-port-30001"), None,
                                lambda o: o.get("data") == old["data"])
    assert shown() == []  # a's record, released by us: hidden until its DELETED arrives
    cache.expect("ConfigMap", ("raygate-system", "raygate-port-30001"), ours,
                 lambda o: o.get("data") == ours["data"])
    assert shown() == ["t/b"]
    cache.apply("ConfigMap", "MODIFIED", old)   # late events of the previous holder
    cache.apply("ConfigMap", "DELETED", old)
    assert shown() == ["t/b"]
    withdraw_old()  # not the current expectation: no effect
    assert shown() == ["t/b"]
    cache.apply("ConfigMap", "ADDED", ours)     # ours, delivered: the store has it
    cache.apply("ConfigMap", "DELETED", ours)   # and someone deleted it
    assert shown() == []
    # Expected, never delivered, and gone by the time of a LIST made after the write.
    cache.expect("ConfigMap", ("raygate-system", "raygate-port-30001"), ours,
                 lambda o: o.get("data") == ours["data"])
    cache.settle("ConfigMap", [ours])
    assert shown() == ["t/b"]  # the LIST shows it: still expected (the store lags)
    cache.settle("ConfigMap", [])
    assert shown() == []
    # A failed write is withdrawn.
    withdraw = cache.expect("ConfigMap", ("raygate-system", "raygate-port-30001"), ours,
                            lambda o: o.get("data") == ours["data"])
    withdraw()
    assert shown() == []


def test_an_error_event_relists(tmp_path: Any) -> None:
    """A watch from a resourceVersion the API server no longer has gets an ERROR event
    (410 Expired) in its stream: the watch lists again and watches from there."""
    with FakeApiServer(history=20) as server:
        server.write_kubeconfig(tmp_path / "kubeconfig")
        world.install(server)
        server.add(ray_cluster("a", "t", "ua"))

        def churn(srv: FakeApiServer) -> None:  # between the LIST and the WATCH
            for i in range(30):
                srv.patch("RayCluster", "t", "a", {"metadata": {"labels": {"n": str(i)}}})
        server.before(churn, verb="watch", kind="RayCluster")
        with ClusterSource(server.kubeconfig_path) as source:
            cache, stop = WatchCache(), threading.Event()
            threading.Thread(target=lightkube_watch(source, cache), daemon=True,
                             args=("ray.io/v1", "RayCluster", lambda: None, stop)).start()
            try:
                until(lambda: server.count("watch", "RayCluster") >= 2, "a second watch")
                until(lambda: watched_all(cache, server), "the re-listed cache")
                server.patch("RayCluster", "t", "a", {"metadata": {"labels": {"n": "last"}}})
                until(lambda: watched_all(cache, server), "the next event")
                assert server.count("list", "RayCluster") == 2
            finally:
                stop.set()
