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
from raygate.operator.cache import ClusterCache
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


def rvs(cache: ClusterCache) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in cache.objects(["RayCluster"])}


def live_rvs(server: FakeApiServer) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in server.objects("RayCluster")}


@pytest.fixture
def watched(api_server: FakeApiServer, source: ClusterSource) -> Iterator[ClusterCache]:
    cache = ClusterCache()
    stop = threading.Event()
    t = threading.Thread(target=lightkube_watch(source, cache), daemon=True,
                         args=("ray.io/v1", "RayCluster", lambda: None, stop))
    t.start()
    yield cache
    stop.set()


def test_the_cache_follows_the_watch(api_server: FakeApiServer, watched: ClusterCache) -> None:
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
    cache, stop = ClusterCache(), threading.Event()
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


def watched_all(cache: ClusterCache, server: FakeApiServer) -> bool:
    return cache.synced(["RayCluster"]) and rvs(cache) == live_rvs(server)


def test_our_write_replaces_only_the_version_it_was_made_from() -> None:
    cache = ClusterCache()

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
    """Passes after the first read the cache: no LIST of Ray clusters beyond the watches'
    own; each cluster is told once (one Exposed Event, no 409 from reading its version from
    before our finalizer patch); deleting one leaves nothing."""
    api_server.add_many(ray_cluster(f"a{i}", "t", f"ua{i}") for i in range(5))
    cache = ClusterCache()
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
    # One by the watch, one by the leader's first (fresh) pass: none by the passes after it.
    assert len(cluster_lists) == 2 and len(reports) > 3
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
    cache = ClusterCache()
    for kind in ("RayCluster", "RayService", "RayJob"):
        cache.replace(kind, api.list("ray.io/v1", kind))
    r = Reconciler(api, settings.load(None, {"portRange": {"first": 30001, "last": 30999}}),
                   cache=cache)
    assert sorted(r.run_pass(fresh=False).told) == ["t/a", "t/b"]
    again = r.run_pass(fresh=False)
    assert again.writes == 0 and again.told == []
    assert len([e for e in api_server.objects("Event", "t") if e["reason"] == "Exposed"]) == 2
    assert rvs(cache)["a"] == api_server.get("RayCluster", "t", "a")["metadata"]["resourceVersion"]
