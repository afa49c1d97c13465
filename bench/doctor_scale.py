"""Doctor at scale: a fake API server holding a big cluster, read by ClusterSource.

Measures, against the fake API (tests/fakeapi) holding 5,000 nodes, 50,000 pods,
10,000 services (+ their EndpointSlices) and 500 RayClusters:
- the number of API requests ``ClusterSource.load()`` makes (must stay <= ``MAX_REQUESTS``, 25 with every Gateway API kind and policy served);
- the wall time of the whole doctor run (load + dry-runs + every rule) versus the same
  LISTs alone (same URLs and selectors, fetched concurrently and JSON-decoded), target <= 1.5x;
- the peak RSS of the client process for each.

The server runs in its own process so the client's memory is measured alone, and each
measurement runs in a fresh process (``--measure``). Results: docs/benchmarks.md,
section "Doctor at scale".

    .venv/bin/python bench/doctor_scale.py [--repeat 3] [--nodes 5000 --pods 50000 ...]
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def synthetic(nodes: int, pods: int, services: int, rayclusters: int, ingresses: int):
    """The cluster: generated lazily so the server process never holds two copies."""
    from tests.cluster import world
    yield world.node("gateway-0", "192.168.1.33", **{"ingress-ready": "true"})
    for i in range(1, nodes):
        yield world.node(f"node-{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    yield world.controller_deployment()
    yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "ingress-nginx-controller", "namespace": "ingress-nginx"}, "data": {}}
    tcp = {}
    yield {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
           "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
    yield {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "ingress-nginx-controller-0", "namespace": "ingress-nginx",
        "labels": dict(world.CONTROLLER_LABELS)}, "spec": {"nodeName": "gateway-0"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    for r in range(rayclusters):
        ns, name = f"team-{r % 50}", f"rc-{r}"
        svc = f"{name}-head-svc"
        yield {"apiVersion": "ray.io/v1", "kind": "RayCluster",
               "metadata": {"name": name, "namespace": ns},
               "spec": {"headGroupSpec": {"template": {"spec": {"containers": [
                   {"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}}}},
               "status": {"state": "ready", "head": {"serviceName": svc}}}
        yield {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": f"{name}-head", "namespace": ns,
            "labels": {"ray.io/cluster": name, "ray.io/node-type": "head"}},
            "spec": {"nodeName": f"node-{1 + r % max(1, nodes - 1)}"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
        if r < ingresses:
            tcp[str(20000 + r)] = f"{ns}/{svc}:10001"
            yield {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": f"{name}-dashboard", "namespace": ns, "annotations": {
                       "nginx.ingress.kubernetes.io/rewrite-target": "/$1"}},
                   "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                       "path": f"/{name}/(.*)", "pathType": "ImplementationSpecific",
                       "backend": {"service": {"name": svc, "port": {"number": 8265}}}}]}}]}}
    yield {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"}, "data": tcp}
    for s in range(services):
        if s < rayclusters:
            ns, name = f"team-{s % 50}", f"rc-{s}-head-svc"
            selector = {"ray.io/cluster": f"rc-{s}", "ray.io/node-type": "head"}
        else:
            ns, name, selector = f"app-{s % 200}", f"svc-{s}", {"app": f"svc-{s}"}
        ports = [{"name": "http", "port": 8265 if s < rayclusters else 80, "protocol": "TCP"}]
        if s < rayclusters:
            ports.append({"name": "client", "port": 10001, "protocol": "TCP"})
        yield {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"selector": selector, "ports": ports}}
        yield {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": f"{name}-x1", "namespace": ns,
                            "labels": {"kubernetes.io/service-name": name}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": [f"10.244.{s // 256 % 256}.{s % 256}"],
                              "conditions": {"ready": True}}],
               "ports": ports}
    workers = pods - rayclusters - 1
    for p in range(workers):
        yield {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": f"worker-{p}", "namespace": f"app-{p % 200}",
            "labels": {"app": f"svc-{p % 9500}", "pod-template-hash": "5d8f7c"}},
            "spec": {"nodeName": f"node-{1 + p % max(1, nodes - 1)}", "containers": [
                {"name": "app", "image": "example/app:1"}]},
            "status": {"phase": "Running", "podIP": f"10.245.{p // 256 % 256}.{p % 256}"}}


def serve(args: argparse.Namespace) -> None:
    """Child process: run the fake API with the synthetic cluster until stdin closes."""
    from tests.fakeapi.admission import ingress_nginx_admission
    from tests.fakeapi.server import FakeApiServer
    server = FakeApiServer(history=1000).start()
    t0 = time.perf_counter()
    n = server.add_many(synthetic(args.nodes, args.pods, args.services, args.rayclusters,
                                  args.ingresses))
    server.admission = ingress_nginx_admission(server)
    path = server.write_kubeconfig(Path(args.workdir) / "kubeconfig")
    print(json.dumps({"kubeconfig": str(path), "objects": n,
                      "load_seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    sys.stdin.read()
    server.stop()


def measure(args: argparse.Namespace) -> None:
    """Child process: one measurement, printed as JSON."""
    from raygate.sources.cluster import ClusterSource
    source = ClusterSource(args.kubeconfig, timeout=120)
    out: dict[str, object] = {}
    if args.measure == "lists":
        import httpx2
        from concurrent.futures import ThreadPoolExecutor
        from lightkube.core.selector import build_selector
        base = source.server
        token = source.config.user.token
        t0 = time.perf_counter()
        planned = source.plan()  # the same discovery request the real load makes
        http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                             timeout=120)

        def one(item):
            spec, version = item
            prefix = "/api/v1" if not spec.group else f"/apis/{spec.group}/{version}"
            params = {"limit": str(source.page_size)}
            if spec.labels:
                params["labelSelector"] = build_selector(dict(spec.labels))
            items = json.loads(http.get(f"{prefix}/{spec.plural}", params=params).content)["items"]
            return len(items)

        with ThreadPoolExecutor(max_workers=source.workers) as pool:
            counts = list(pool.map(one, planned))
        http.close()
        out["seconds"] = time.perf_counter() - t0
        out["objects"] = sum(counts)
        out["requests"] = len(planned) + 1
    else:
        # Import (and register the rule catalog) before the clock starts, as the LIST baseline
        # imports its HTTP client first: the comparison is of work, not of Python start-up.
        try:
            import raygate.doctor  # noqa: F401
            from raygate.rules import CATALOG
            list(CATALOG)
            # The cluster source imports these lazily (CLI start-up time); the baseline
            # imported its HTTP client before its clock started, so do the same here.
            import httpx2  # noqa: F401
            import lightkube  # noqa: F401
            from lightkube.core import selector  # noqa: F401
        except ImportError:
            pass
        t0 = time.perf_counter()
        try:
            from raygate.doctor import diagnose, gather_live
            gathered = gather_live(source=source)
            out["gather_seconds"] = time.perf_counter() - t0
            out["dry_run_seconds"] = gathered.timings.get("dry_runs_and_logs", 0.0)
            load_requests = gathered.request_count
            t_rules = time.perf_counter()
            diagnosis = diagnose(gathered)
            out["rules_seconds"] = time.perf_counter() - t_rules
            result = diagnosis.result
            out["mode"] = "doctor (gather_live + diagnose: load, dry-runs, all rules)"
            out["dry_runs"] = len(gathered.admission)
        except ImportError:
            from raygate import engine
            loaded = source.load()
            load_requests = source.request_count
            result = engine.run(loaded.objects)
            out["mode"] = "ClusterSource.load + engine.run (doctor not available)"
        out["seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        source2 = ClusterSource(args.kubeconfig, timeout=120)
        loaded = source2.load()
        out["load_only_seconds"] = time.perf_counter() - t1
        out["load_requests"] = source2.request_count
        out["all_requests"] = load_requests if load_requests is not None else source.request_count
        out["objects"] = len(loaded.objects)
        out["findings"] = len(result.findings)
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=50000)
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--rayclusters", type=int, default=500)
    ap.add_argument("--ingresses", type=int, default=20,
                    help="Ray Dashboard Ingresses (each costs doctor one dry-run request)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--measure", choices=("lists", "doctor"), help=argparse.SUPPRESS)
    ap.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args)
    if args.measure:
        return measure(args)

    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    with tempfile.TemporaryDirectory() as workdir:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--workdir", workdir, "--nodes", str(args.nodes),
             "--pods", str(args.pods), "--services", str(args.services),
             "--rayclusters", str(args.rayclusters), "--ingresses", str(args.ingresses)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        try:
            info = json.loads(server.stdout.readline())
            print(f"fake API: {info['objects']:,} objects loaded in {info['load_seconds']}s")
            runs: dict[str, list[dict]] = {"lists": [], "doctor": []}
            # One unmeasured pass warms the server's serialization caches for both.
            warm = subprocess.run([sys.executable, __file__, "--measure", "lists", "--kubeconfig",
                                   info["kubeconfig"]], capture_output=True, text=True, env=env)
            if warm.returncode:
                raise SystemExit(f"measurement failed:\n{warm.stderr}")
            for _ in range(args.repeat):
                for kind in ("lists", "doctor"):
                    proc = subprocess.run(
                        [sys.executable, __file__, "--measure", kind, "--kubeconfig",
                         info["kubeconfig"]], capture_output=True, text=True, env=env)
                    if proc.returncode:
                        raise SystemExit(f"measurement {kind} failed:\n{proc.stderr}")
                    runs[kind].append(json.loads(proc.stdout.strip().splitlines()[-1]))
        finally:
            server.stdin.close()
            server.wait(30)
    lists = statistics.median(r["seconds"] for r in runs["lists"])
    doctor = statistics.median(r["seconds"] for r in runs["doctor"])
    load_only = statistics.median(r["load_only_seconds"] for r in runs["doctor"])
    without_dry_runs = statistics.median(r["seconds"] - r.get("dry_run_seconds", 0.0)
                                         for r in runs["doctor"])
    d = runs["doctor"][-1]
    print(json.dumps({"lists": runs["lists"][-1], "doctor": d}, indent=1))
    print("\n| measure | value |\n|---|---|")
    print(f"| cluster | {args.nodes:,} nodes, {args.pods:,} pods, {args.services:,} services "
          f"(+ {args.services:,} EndpointSlices), {args.rayclusters} RayClusters, "
          f"{args.ingresses} Ray Ingresses |")
    print(f"| objects doctor kept (label-filtered pods) | {d['objects']:,} |")
    print(f"| API requests of ClusterSource.load() | {d['load_requests']} (budget 20) |")
    print(f"| API requests of the whole doctor run | {d['all_requests']} (+ dry-runs) |")
    print(f"| same LISTs alone (fetch + json decode), median of {args.repeat} | {lists:.2f} s |")
    print(f"| ClusterSource.load() alone | {load_only:.2f} s ({load_only / lists:.2f}x) |")
    print(f"| doctor without the admission dry-runs (LISTs + all rules + lanes) | "
          f"{without_dry_runs:.2f} s ({without_dry_runs / lists:.2f}x) |")
    print(f"| {d['mode']} | {doctor:.2f} s ({doctor / lists:.2f}x) |")
    print(f"| peak RSS, LISTs alone / doctor | {runs['lists'][-1]['max_rss_mb']:.0f} MB / "
          f"{d['max_rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
