"""The operator at scale: N annotated RayClusters created at once, against the fake API server.

Measures, for N in 100, 500, 1,000 (``--clusters``):
- time from a cluster's creation to its routes and tcp-services entry written (median, p99;
  target p99 under 1 s at 500), and to its annotations and Event written (p99);
- API writes per pass and per cluster (shared objects are written once per pass, so writes per
  cluster stay ~ 1 allocation + routes + 1 annotation);
- the operator process's peak RSS (target under 200 MB at 1,000);
- CPU per cluster of the operator, of the fake API server and of the creating client (each its
  own process), and the machine's load average: on a shared machine the latencies follow the
  CPU left over, so they are only meaningful next to these.

The fake API server and the creating client run in processes of their own, so the operator's
memory and CPU are measured alone and it shares its interpreter lock with nobody (until
2026-12-07 the creating client was a thread of the operator's process); the operator runs as
it does in a pod: Lease election, watches on the Ray kinds, batched passes.
Results: docs/benchmarks.md, section "Operator at scale".

    .venv/bin/python bench/operator_scale.py [--clusters 100 500 1000] [--rate 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def serve(workdir: str) -> None:
    from tests.cluster import world
    from tests.fakeapi.server import FakeApiServer
    server = FakeApiServer().start()
    world.install(server)
    server.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "raygate-system"}})
    path = server.write_kubeconfig(Path(workdir) / "kubeconfig")
    print(json.dumps({"kubeconfig": str(path)}), flush=True)
    for _ in sys.stdin:  # each line asks for the CPU time used so far; until the parent closes it
        print(json.dumps({"cpu_s": time.process_time()}), flush=True)
    server.stop()


def measure(kubeconfig: str, n: int, rate: float | None = None) -> dict:
    from raygate.operator import settings
    from raygate.operator.cache import WatchCache
    from raygate.operator.leader import LeaseElector, LightkubeLeaseApi
    from raygate.operator.loop import Operator, lightkube_watch
    from raygate.operator.metrics import Metrics
    from raygate.operator.reconciler import Api, PassReport, Reconciler
    from raygate.sources.cluster import ClusterSource

    source = ClusterSource(kubeconfig, timeout=120)
    s = settings.load(None, {"portRange": {"first": 20000, "last": 29999}})
    done: dict[str, float] = {}  # routes, port and tcp-services entry written: reachable
    told: dict[str, float] = {}  # and its annotations and Event written: users told
    passes: list[PassReport] = []

    def on_pass(report: PassReport) -> None:
        now = time.monotonic()
        passes.append(report)
        for a in report.allocated:
            done.setdefault(a.cluster, report.routed_at or now)
        for cluster in report.told:  # may be a later pass (Reconciler.tell_delay)
            told.setdefault(cluster, now)

    cache = WatchCache()
    op = Operator(Reconciler(Api(source), s, cache=cache),
                  LeaseElector(LightkubeLeaseApi(source.client), s.namespace, s.lease_name,
                               "bench", retry_period=0.2, renew_deadline=5, lease_duration=10),
                  Metrics(), watch=lightkube_watch(source, cache), on_pass=on_pass, batch_window=0.05)
    runner = threading.Thread(target=op.run, daemon=True)
    runner.start()
    while op.last_report is None:  # leader, first (empty) pass done, watches up
        time.sleep(0.05)
    time.sleep(0.5)

    # The clusters are created by another process, as users (or a CI job) would: all at once
    # (as fast as the API server takes them), or ``rate`` per second. In this process it would
    # share the operator's interpreter lock, which no user's kubectl does.
    cpu_start = time.process_time()
    watch_cpu_start = watch_threads_cpu()
    creator = subprocess.Popen([sys.executable, __file__, "--create", str(n), "--kubeconfig",
                                kubeconfig, *(["--rate", str(rate)] if rate else [])],
                               stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'src'}"))
    out, _ = creator.communicate()
    if creator.returncode != 0:
        sys.exit(f"creating the clusters failed (exit {creator.returncode})")
    report = json.loads(out.strip().splitlines()[-1])
    created: dict[str, float] = report["created"]
    create_s = report["create_s"]
    deadline = time.monotonic() + 300
    while (len(done) < n or len(told) < n) and time.monotonic() < deadline:
        time.sleep(0.05)
    operator_cpu = time.process_time() - cpu_start  # the creating client is elsewhere
    watch_cpu = watch_threads_cpu() - watch_cpu_start
    op.stop()
    runner.join(30)
    latencies = sorted(done[c] - created[c] for c in done)
    told_latencies = sorted(told[c] - created[c] for c in told)
    # Every pass that routed or told (telling may follow in a pass of its own).
    busy = [p for p in passes if p.allocated or p.told]
    writes = sum(p.writes for p in busy)
    return {
        "clusters": n, "rate": rate or "burst", "routed": len(done),
        # How long the client took to create them all: a floor under the p99 above.
        "create_s": round(create_s, 3),
        "creator_cpu_ms_per_cluster": report["cpu_ms_per_cluster"],
        "median_s": round(statistics.median(latencies), 3),
        "p99_s": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3),
        "told_p99_s": round(told_latencies[max(0, int(len(told_latencies) * 0.99) - 1)], 3),
        "passes": len(busy), "writes": writes,
        "writes_per_cluster": round(writes / max(1, len(done)), 2),
        "writes_per_pass": round(writes / max(1, len(busy)), 1),
        "tcp_services_writes": sum(1 for p in passes if p.allocated),  # at most one a pass
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "operator_cpu_ms_per_cluster": round(operator_cpu * 1000 / n, 2),
        # Of which its watches' threads (reading and decoding events, keeping the cache).
        "watch_cpu_ms_per_cluster": round(watch_cpu * 1000 / n, 2),
        "load": round(os.getloadavg()[0], 1),
    }


def watch_threads_cpu() -> float:
    """CPU seconds used so far by this process's watch threads (``watch-<kind>``), from
    /proc (Linux): user + system time of each thread."""
    total = 0
    for t in threading.enumerate():
        if not t.name.startswith("watch-") or t.native_id is None:
            continue
        try:
            stat = Path(f"/proc/self/task/{t.native_id}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # after the name, which may hold spaces
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def create(kubeconfig: str, n: int, rate: float | None) -> None:
    """Create ``n`` annotated RayClusters, printing when each create call was made
    (``time.monotonic()``: the same clock in every process of this machine).

    The client is a load generator sharing the machine's two cores with the operator and the
    fake API server, so it spends as little CPU as it can: it writes as the operator does
    (``Api.create``, over ``operator/transport.py``: ~0.5 ms of CPU per create, where
    lightkube's typed create took 2.3-2.7 ms; kubectl, a Go binary, is cheaper still)."""
    from raygate.operator.reconciler import Api
    from raygate.sources.cluster import ClusterSource
    from tests.operator.test_pure import ray_cluster

    api = Api(ClusterSource(kubeconfig, timeout=120))
    api.prepare()
    names = [(f"team{i % 20}", f"c{i:04d}") for i in range(n)]
    bodies = [ray_cluster(name, ns, f"uid-{i}") for i, (ns, name) in enumerate(names)]
    for body in bodies:  # the API server sets the uid
        del body["metadata"]["uid"]
    created: dict[str, float] = {}
    cpu_start = time.process_time()
    start = time.monotonic()
    for i, ((ns, name), body) in enumerate(zip(names, bodies)):
        if rate:
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        created[f"{ns}/{name}"] = time.monotonic()
        if not api.create(body):
            sys.exit(f"{ns}/{name} exists already")
    print(json.dumps({"created": created, "create_s": round(time.monotonic() - start, 3),
                      "cpu_ms_per_cluster": round((time.process_time() - cpu_start) * 1000 / n,
                                                  2)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, nargs="+", default=[100, 500, 1000])
    ap.add_argument("--rate", type=float, default=None,
                    help="create RATE clusters per second instead of all at once")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--create", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.workdir)
        return
    if args.create:
        create(args.kubeconfig, args.create, args.rate)
        return
    if args.measure:
        print(json.dumps(measure(args.kubeconfig, args.measure, args.rate)))
        return
    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'src'}")
    rows = []
    for n in args.clusters:
        with tempfile.TemporaryDirectory() as workdir:
            server = subprocess.Popen([sys.executable, __file__, "--serve", "--workdir", workdir],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      env=env)
            try:
                info = json.loads(server.stdout.readline())
                server.stdin.write("\n")
                server.stdin.flush()
                server_cpu = json.loads(server.stdout.readline())["cpu_s"]
                proc = subprocess.run([sys.executable, __file__, "--measure", str(n),
                                       "--kubeconfig", info["kubeconfig"],
                                       *(["--rate", str(args.rate)] if args.rate else [])],
                                      capture_output=True, text=True, env=env)
                if proc.returncode != 0:
                    sys.exit(proc.stderr)
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                server.stdin.write("\n")
                server.stdin.flush()
                server_cpu = json.loads(server.stdout.readline())["cpu_s"] - server_cpu
                rows[-1]["api_server_cpu_ms_per_cluster"] = round(server_cpu * 1000 / n, 2)
                print(json.dumps(rows[-1]), flush=True)
            finally:
                server.stdin.close()
                server.wait(30)
    print("\n| clusters | arrivals | creating them took | median create->routed | p99 | "
          "p99 create->annotated | passes | writes/cluster | tcp-services writes | peak RSS | "
          "CPU/cluster: operator, fake API, creator | "
          "load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        arrivals = "all at once" if r["rate"] == "burst" else f"{r['rate']:g}/s"
        print(f"| {r['clusters']} | {arrivals} | {r['create_s']} s | {r['median_s']} s | "
              f"{r['p99_s']} s | {r['told_p99_s']} s | "
              f"{r['passes']} | {r['writes_per_cluster']} | {r['tcp_services_writes']} | "
              f"{r['peak_rss_mb']} MB | {r['operator_cpu_ms_per_cluster']} ms, "
              f"{r['api_server_cpu_ms_per_cluster']} ms, {r['creator_cpu_ms_per_cluster']} ms | "
              f"{r['load']} |")


if __name__ == "__main__":
    main()
