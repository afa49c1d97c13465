"""Lease-based leader election against the fake API server (real lightkube client): one
leader at a time, failover after the lease duration, never two writers."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any, Iterator

import pytest

from raygate.operator.leader import LeaseElector, LightkubeLeaseApi
from raygate.operator.loop import Backoff, Operator
from raygate.operator.metrics import Metrics, serve
from raygate.operator.reconciler import Api, Reconciler
from raygate.operator import settings
from raygate.sources.cluster import ClusterSource
from tests.fakeapi.server import FakeApiServer
from tests.operator.test_pure import ray_cluster

NS = "raygate-system"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sources(fake_api: FakeApiServer) -> Iterator[tuple[ClusterSource, ClusterSource]]:
    fake_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    with ClusterSource(fake_api.kubeconfig_path) as a, ClusterSource(fake_api.kubeconfig_path) as b:
        yield a, b


def electors(sources: tuple[ClusterSource, ClusterSource], clock: Clock) -> tuple[LeaseElector, LeaseElector]:
    return tuple(LeaseElector(LightkubeLeaseApi(s.client), NS, "raygate-operator", who,
                              lease_duration=15, renew_deadline=10, retry_period=2, clock=clock)
                 for s, who in zip(sources, ("replica-a", "replica-b")))  # type: ignore[return-value]


def test_one_leader_and_failover_after_the_lease_duration(fake_api: FakeApiServer, sources) -> None:
    clock = Clock()
    a, b = electors(sources, clock)
    assert a.try_acquire_or_renew() and a.is_leader
    assert not b.try_acquire_or_renew() and not b.is_leader
    lease = fake_api.get("Lease", NS, "raygate-operator")
    assert lease["spec"]["holderIdentity"] == "replica-a"
    assert lease["spec"]["leaseDurationSeconds"] == 15

    # a keeps renewing: b never takes over, however long it waits.
    for _ in range(10):
        clock.now += 2
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()

    # a dies (stops renewing). a's own view expires after renew_deadline, before anyone
    # else may take over (lease_duration, by b's clock from when b last saw a change).
    clock.now += 10
    assert not a.is_leader
    clock.now += 4
    assert not b.try_acquire_or_renew()  # only 14 s since b observed the last renewal
    clock.now += 2
    assert b.try_acquire_or_renew() and b.is_leader
    lease = fake_api.get("Lease", NS, "raygate-operator")
    assert lease["spec"]["holderIdentity"] == "replica-b"
    assert lease["spec"]["leaseTransitions"] == 1


def test_simultaneous_takeover_has_one_winner(fake_api: FakeApiServer, sources) -> None:
    clock = Clock()
    a, b = electors(sources, clock)
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def go(e: LeaseElector) -> None:
        barrier.wait()
        results.append(e.try_acquire_or_renew())

    threads = [threading.Thread(target=go, args=(e,)) for e in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]


def test_release_lets_a_standby_take_over_at_once(fake_api: FakeApiServer, sources) -> None:
    clock = Clock()
    a, b = electors(sources, clock)
    assert a.try_acquire_or_renew()
    a.release()
    assert not a.is_leader
    # An empty holder is free to take (as client-go): no waiting out the 15 s lease.
    assert b.try_acquire_or_renew() and b.is_leader
    assert fake_api.get("Lease", NS, "raygate-operator")["spec"]["holderIdentity"] == "replica-b"


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(base=0.5, cap=4, rand=lambda: 1.0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_operator_runs_a_pass_as_leader_and_serves_metrics(fake_api: FakeApiServer, sources) -> None:
    fake_api.add(ray_cluster("a", "t", "ua"))
    src, _ = sources
    metrics = Metrics()
    server = serve(metrics, "127.0.0.1", 0)
    try:
        elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", "only")
        op = Operator(Reconciler(Api(src), settings.OperatorSettings()), elector, metrics)
        op.run(max_passes=1)
        assert op.last_report is not None and op.last_report.exposed == 1
        port = server.server_port
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        assert "raygate_operator_reconciles_total 1" in text
        assert "raygate_operator_allocations_total 1" in text
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz").status == 200
    finally:
        server.shutdown()
    # run() released the lease on the way out.
    assert fake_api.get("Lease", NS, "raygate-operator")["spec"].get("holderIdentity") is None


def test_cli_dry_run_prints_the_plan_and_writes_nothing(fake_api: FakeApiServer, sources,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from raygate.cli import main
    fake_api.add(ray_cluster("a", "t", "ua"))
    fake_api.add(ray_cluster("open", "t", "uo", auth=None))
    before = fake_api.resource_version
    main(["operator", "--dry-run", "--kubeconfig", str(fake_api.kubeconfig_path),
          "--port-range", "31000-31010"])
    out, err = capsys.readouterr()
    assert "create ConfigMap raygate-system/raygate-port-31000" in out
    assert "apply ConfigMap ingress-nginx/tcp-services (31000 -> t/a-head-svc:10001)" in out
    assert "apply Ingress t/raygate-a-dashboard" in out
    assert "annotate RayCluster t/open: raygate.io/status=not exposed" in out
    assert "2 Ray cluster(s), 1 to expose" in err and "nothing written" in err
    assert fake_api.resource_version == before


def test_cli_dry_run_on_the_gateway_api_backend(fake_api: FakeApiServer, sources,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from raygate.cli import main
    fake_api.add({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                  "metadata": {"name": "shared", "namespace": "infra"},
                  "spec": {"gatewayClassName": "eg",
                           "allowedListeners": {"namespaces": {"from": "All"}},
                           "listeners": [{"name": "web", "protocol": "HTTP", "port": 80,
                                          "allowedRoutes": {"namespaces": {"from": "All"}}}]}})
    fake_api.add(ray_cluster("a", "t", "ua"))
    before = fake_api.resource_version
    main(["operator", "--dry-run", "--kubeconfig", str(fake_api.kubeconfig_path),
          "--backend", "gateway-api", "--gateway", "infra/shared", "--port-range", "31000-31010"])
    out, err = capsys.readouterr()
    assert "create ConfigMap raygate-system/raygate-port-31000" in out
    assert "apply ListenerSet t/raygate-a-listeners" in out
    assert "apply TCPRoute t/raygate-a-ray-client" in out
    assert "apply HTTPRoute t/raygate-a-dashboard" in out
    assert "tcp-services" not in out and "Gateway infra/shared" not in out
    assert fake_api.resource_version == before


@pytest.mark.parametrize("args, message", [
    (["--backend", "gateway-api"], "gatewayApi.gatewayName"),
    (["--port-range", "30000"], "expected FIRST-LAST"),
    (["--port-range", "31000-30000"], "portRange"),
    (["--routing", "host"], "routing.domain"),
])
def test_cli_bad_settings_exit_2_with_one_line(args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from raygate.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["operator", "--dry-run", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def run_one_pass_through_faults(fake_api: FakeApiServer, src: ClusterSource) -> Metrics:
    """One operator pass over clusters a and b (faults already injected), retrying with a
    short backoff; it must end with both exposed. Returns the metrics to count the errors."""
    metrics = Metrics()
    elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", "only")
    op = Operator(Reconciler(Api(src), settings.OperatorSettings()), elector, metrics)
    op.backoff = Backoff(base=0.01, cap=0.05)
    op.run(max_passes=1)
    assert op.last_report is not None and op.last_report.exposed == 2
    for name in ("a", "b"):
        notes = fake_api.get("RayCluster", "t", name)["metadata"]["annotations"]
        assert notes["raygate.io/status"] == "exposed"
        assert fake_api.get("Ingress", "t", f"raygate-{name}-dashboard") is not None
    return metrics


def test_server_errors_and_conflicts_are_retried_until_the_pass_converges(
        fake_api: FakeApiServer, sources) -> None:
    from tests.cluster import world
    world.install(fake_api)
    fake_api.add_many([ray_cluster(n, "t", f"u{n}") for n in ("a", "b")])
    src, _ = sources
    fake_api.inject(500, verb="list", kind="RayCluster")
    fake_api.inject(503, verb="patch", kind="Ingress", times=2)
    fake_api.inject(409, verb="patch", kind="RayCluster")
    metrics = run_one_pass_through_faults(fake_api, src)
    assert metrics.get("raygate_operator_reconcile_errors_total") == 3


def test_requests_that_time_out_are_retried_with_backoff_until_the_pass_converges(
        fake_api: FakeApiServer, sources) -> None:
    """A slow API server (the client's timeout fires before the answer) is an error of one
    attempt, retried with backoff, not a crash or a cluster left half exposed."""
    from tests.cluster import world
    world.install(fake_api)
    fake_api.add_many([ray_cluster(n, "t", f"u{n}") for n in ("a", "b")])
    fake_api.stall(3.0, verb="list", kind="RayCluster")
    fake_api.stall(3.0, verb="patch", kind="Ingress")
    with ClusterSource(fake_api.kubeconfig_path, timeout=0.5) as src:
        metrics = run_one_pass_through_faults(fake_api, src)
    assert metrics.get("raygate_operator_reconcile_errors_total") == 2


def test_a_watch_that_gets_410_gone_restarts_and_keeps_reporting(fake_api: FakeApiServer,
                                                                  sources) -> None:
    from raygate.operator.loop import lightkube_watch
    src, _ = sources
    fake_api.add(ray_cluster("a", "t", "ua"))
    fake_api.inject(410, verb="watch", kind="RayCluster", reason="Expired",
                    message="too old resource version")
    pokes: list[int] = []
    stop = threading.Event()
    t = threading.Thread(target=lightkube_watch(src), daemon=True,
                         args=("ray.io/v1", "RayCluster", lambda: pokes.append(1), stop))
    t.start()
    for i in range(200):  # the 410 pokes once; the restarted watch sees the changes
        if len(pokes) >= 3:
            break
        fake_api.patch("RayCluster", "t", "a", {"metadata": {"labels": {"n": str(i)}}})
        stop.wait(0.05)
    stop.set()
    assert len(pokes) >= 3
    assert [r.status for r in fake_api.requests if r.verb == "watch"][0] == 410


def test_two_operator_replicas_one_writer(fake_api: FakeApiServer) -> None:
    """Both replicas run their loops at once: only the Lease holder ever writes."""
    from tests.cluster import world
    world.install(fake_api)
    fake_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    fake_api.add_many([ray_cluster(f"c{i}", "t", f"u{i}") for i in range(20)])
    ops, srcs = [], []
    for who in ("replica-a", "replica-b"):
        src = ClusterSource(fake_api.kubeconfig_path)
        srcs.append(src)
        elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", who,
                               lease_duration=3, renew_deadline=2, retry_period=0.1)
        ops.append(Operator(Reconciler(Api(src), settings.OperatorSettings()), elector, Metrics()))
    threads = [threading.Thread(target=op.run, daemon=True) for op in ops]
    for t in threads:
        t.start()
    for _ in range(100):
        if any(op.last_report is not None for op in ops):
            break
        threading.Event().wait(0.05)
    threading.Event().wait(0.5)
    for op in ops:
        op.stop()
    for t in threads:
        t.join(10)
    writers = [op for op in ops if op.last_report is not None]
    assert len(writers) == 1  # the standby never ran a pass
    assert writers[0].metrics.get("raygate_operator_is_leader") == 1
    ports = [o["metadata"]["name"] for o in fake_api.objects("ConfigMap", NS)]
    assert len(ports) == 20 == len(set(ports))
    for src in srcs:
        src.close()


def test_a_pass_that_left_telling_to_the_next_is_followed_by_one(fake_api: FakeApiServer,
                                                                  sources) -> None:
    """The loop does not wait for the next change or the resync to tell users: a pass that
    left annotations and Events for later (more clusters were waiting) queues another."""
    from tests.cluster import world
    world.install(fake_api)
    fake_api.add_many([ray_cluster(n, "t", f"u{n}") for n in ("a", "b")])
    src, _ = sources

    class BusyFirstPass(Reconciler):
        passes = 0

        def run_pass(self, more_waiting=lambda: False, **kw):  # type: ignore[no-untyped-def]
            self.passes += 1
            return super().run_pass((lambda: True) if self.passes == 1 else more_waiting, **kw)

    reports = []
    elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", "only",
                           retry_period=0.05)
    op = Operator(BusyFirstPass(Api(src), settings.OperatorSettings(), tell_later_from=1),
                  elector, Metrics(),
                  resync_seconds=300, on_pass=reports.append)
    runner = threading.Thread(target=op.run, kwargs={"max_passes": 2}, daemon=True)
    runner.start()
    runner.join(20)
    op.stop()
    assert not runner.is_alive(), "no second pass: telling waited for the resync"
    assert [r.told_later for r in reports] == [True, False]
    assert sorted(reports[1].told) == ["t/a", "t/b"]
    for name in ("a", "b"):
        notes = fake_api.get("RayCluster", "t", name)["metadata"]["annotations"]
        assert notes["raygate.io/status"] == "exposed"


def test_probes_run_every_probe_interval_between_resyncs(fake_api: FakeApiServer,
                                                         sources) -> None:
    """probe.intervalSeconds shorter than resyncSeconds: nothing changes, yet each exposed
    cluster is probed again every interval (a path that broke is seen within it)."""
    from tests.probe.test_probe_units import closed_port
    fake_api.add(ray_cluster("a", "t", "ua"))
    src, _ = sources
    s = settings.load(None, {"namespace": NS, "gatewayAddress": f"127.0.0.1:{closed_port()}",
                             "resyncSeconds": 300,
                             "probe": {"enabled": True, "intervalSeconds": 1,
                                       "timeoutSeconds": 1}})
    probed: list[float] = []
    elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", "only",
                           retry_period=0.1)
    op = Operator(Reconciler(Api(src), s), elector, Metrics(),
                  on_pass=lambda report: probed.extend(time.monotonic() for _ in report.probes))
    runner = threading.Thread(target=op.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while len(probed) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    op.stop()
    runner.join(10)
    assert len(probed) >= 3
    assert all(later - earlier >= 0.9 for earlier, later in zip(probed, probed[1:]))


def test_the_repair_pass_runs_every_resync_even_while_changes_keep_coming(
        fake_api: FakeApiServer, sources) -> None:
    """A busy cluster (a change every 0.1 s) still gets its full, freshly listed repair pass
    every resyncSeconds: passes made for changes do not postpone it."""
    src, _ = sources
    fresh_passes: list[bool] = []

    class Recording(Reconciler):
        def run_pass(self, more_waiting: Any = lambda: False, *, fresh: bool = True) -> Any:
            fresh_passes.append(fresh)
            return super().run_pass(more_waiting, fresh=fresh)

    elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", "only",
                           retry_period=0.05)
    op = Operator(Recording(Api(src), settings.load(None, {"namespace": NS})), elector,
                  Metrics(), resync_seconds=1, batch_window=0.01)
    runner = threading.Thread(target=op.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while fresh_passes.count(True) < 3 and time.monotonic() < deadline:
        op.poke("change")
        time.sleep(0.1)
    op.stop()
    runner.join(10)
    assert fresh_passes.count(True) >= 3
    assert fresh_passes.count(False) > fresh_passes.count(True)


def test_the_gateway_node_going_notready_is_acted_on_when_it_happens(
        fake_api: FakeApiServer, sources) -> None:
    """pinned-node: the Nodes are watched. The gateway node going NotReady starts a pass at
    once (no Ray cluster changed, the resync is far off) and the label moves; a change that
    decides nothing (a node's annotation, a node without either label) starts none."""
    from raygate.operator.cache import WatchCache
    from raygate.operator.loop import lightkube_watch
    from tests.operator.test_pure import node
    gw, cand = {"raygate.io/gateway": "true"}, {"raygate.io/gateway-candidate": "true"}
    fake_api.add(node("gw-1", "192.168.1.33", **gw))
    fake_api.add(node("gw-2", "192.168.1.34", **cand))
    fake_api.add(node("worker", "192.168.1.40"))
    fake_api.add(ray_cluster("a", "t", "ua"))
    src, _ = sources
    s = settings.load(None, {"namespace": NS, "resyncSeconds": 3600, "placement": {
        "mode": "pinned-node", "label": "raygate.io/gateway=true",
        "failoverLabel": "raygate.io/gateway-candidate=true"}})
    cache = WatchCache()
    passes: list[Any] = []
    elector = LeaseElector(LightkubeLeaseApi(src.client), NS, "raygate-operator", "only",
                           retry_period=0.1)
    op = Operator(Reconciler(Api(src), s, cache=cache), elector, Metrics(),
                  resync_seconds=3600, batch_window=0.01, watch=lightkube_watch(src, cache),
                  on_pass=passes.append)
    runner = threading.Thread(target=op.run, daemon=True)
    runner.start()

    def settle(seconds: float = 1.0) -> int:
        """Wait until no pass ran for ``seconds``; how many have run."""
        deadline = time.monotonic() + 20
        count = -1
        while time.monotonic() < deadline:
            count = len(passes)
            time.sleep(seconds)
            if len(passes) == count and count:
                return count
        raise AssertionError("the operator never settled")
    try:
        quiet = settle()
        assert passes[-1].placement.state == "ok"
        fake_api.patch("Node", "", "worker", {"metadata": {"labels": {"zone": "b"}}})
        fake_api.patch("Node", "", "gw-1", {"metadata": {"annotations": {"note": "1"}}})
        assert settle() == quiet  # nothing that decides the placement changed
        fake_api.add(node("gw-1", "192.168.1.33", ready=False, **gw))
        deadline = time.monotonic() + 10
        while fake_api.get("Node", "", "gw-2")["metadata"]["labels"].get(
                "raygate.io/gateway") != "true":
            assert time.monotonic() < deadline, "the label did not move"
            time.sleep(0.05)
        assert "raygate.io/gateway" not in fake_api.get("Node", "", "gw-1")["metadata"]["labels"]
        notes = fake_api.get("RayCluster", "t", "a")["metadata"]["annotations"]
        deadline = time.monotonic() + 10
        while "192.168.1.34" not in notes.get("raygate.io/client-address", ""):
            assert time.monotonic() < deadline, notes
            time.sleep(0.05)
            notes = fake_api.get("RayCluster", "t", "a")["metadata"]["annotations"]
    finally:
        op.stop()
        runner.join(10)
