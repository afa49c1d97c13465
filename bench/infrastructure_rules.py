"""Time the infrastructure rules (RG301-RG308) over the 10,000-object benchmark corpus.

The shared corpus (``bench/gen_corpus.py``) has RayClusters, head Services, Dashboard Ingresses
and a tcp-services map, but no Nodes or gateway controller, which RG302-RG305 need to do any
work. This script adds what a cluster dump would carry: ``--nodes`` Nodes (one labelled
``ingress-ready=true``), a Pinned Gateway controller and a few hostNetwork Deployments, then
runs the eight rules on a fresh ObjectSet several times (loading excluded) and prints the median.

    .venv/bin/python bench/infrastructure_rules.py [objects=10000] [nodes=500] [repeats=5]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_corpus import generate  # noqa: E402

from raygate import engine  # noqa: E402
from raygate.objects import KubeObject, ObjectSet, Origin  # noqa: E402
from raygate.rules import CATALOG  # noqa: E402
from raygate.sources.files import load_paths  # noqa: E402


def cluster_extras(nodes: int) -> list[KubeObject]:
    raw: list[dict] = []
    for i in range(nodes):
        labels = {"kubernetes.io/hostname": f"node-{i}", "kubernetes.io/os": "linux"}
        if i == 33:
            labels["ingress-ready"] = "true"
        raw.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}", "labels": labels}})
    controller = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
        "spec": {"replicas": 1, "strategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                 "template": {"spec": {
                     "hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet",
                     "nodeSelector": {"ingress-ready": "true"},
                     "containers": [{"name": "controller",
                                     "image": "registry.k8s.io/ingress-nginx/controller:v1.15.1",
                                     "args": ["/nginx-ingress-controller",
                                              "--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services"],
                                     "ports": [{"containerPort": 80}, {"containerPort": 443}]}]}}}}
    raw.append(controller)
    for j in range(20):  # hostNetwork proxies, some unpinned, some over-replicated
        raw.append({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": f"edge-{j}", "namespace": "edge"},
                    "spec": {"replicas": 3, "template": {"spec": {
                        "hostNetwork": True,
                        "nodeSelector": {"kubernetes.io/hostname": f"node-{j}"} if j % 2 else {},
                        "containers": [{"name": "envoy", "image": "envoyproxy/envoy:v1.31.0",
                                        "ports": [{"containerPort": 10000 + j}]}]}}}})
    return [KubeObject(r, Origin("bench-extras.yaml")) for r in raw]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    rules = [r for r in CATALOG if r.code.startswith("RG30")]
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), count)
        objects = list(load_paths([tmp]).objects)
    objects += cluster_extras(nodes)
    times, findings = [], 0
    for _ in range(repeats):
        objset = ObjectSet(objects)  # fresh memo cache each run
        start = time.perf_counter()
        result = engine.run(objset, rules=rules)
        times.append(time.perf_counter() - start)
        findings = len(result.findings)
        assert not result.not_checked, result.not_checked
    by_rule: dict[str, int] = {}
    for f in result.findings:
        by_rule[f.code] = by_rule.get(f.code, 0) + 1
    print(f"{len(objects)} objects ({nodes} Nodes), {len(rules)} rules: median "
          f"{statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f} ms) over {repeats} runs, "
          f"{findings} findings {by_rule}")


if __name__ == "__main__":
    main()
