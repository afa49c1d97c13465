"""Generate a realistic manifest corpus of N objects for benchmarks (deterministic).

Each "tenant" is what a team exposing a Ray cluster has: a RayCluster and its head Service, a
Dashboard Ingress (some with the guide's mistakes), a tcp-services ConfigMap entry, and plain
workloads around them; plus one ingress-nginx controller. Files hold ~20 objects each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def tenant(i: int) -> list[dict]:
    ns, name = f"team-{i}", f"ray-{i}"
    svc = f"{name}-head-svc"
    broken = i % 3 == 0
    objs = [
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name, "namespace": ns},
         "spec": {"rayVersion": "2.52.0", **({} if broken else {"authOptions": {"mode": "token"}}),
                  "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [{
                      "name": "ray-head", "image": "rayproject/ray:2.52.0",
                      "ports": [{"name": "gcs-server", "containerPort": 6379},
                                {"name": "dashboard", "containerPort": 8265},
                                {"name": "client", "containerPort": 10001}]}]}}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": ns,
                                                             "labels": {"ray.io/node-type": "head"}},
         "spec": {"selector": {"ray.io/cluster": name, "ray.io/node-type": "head"},
                  "ports": [{"name": "client", "port": 10001}, {"name": "dashboard", "port": 8265},
                            {"name": "gcs-server", "port": 6379}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": f"{name}-dashboard", "namespace": ns, "annotations": {
             "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
             **({"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers x;"} if broken else
                {"nginx.ingress.kubernetes.io/proxy-body-size": "100m",
                 "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"})}},
         "spec": {"ingressClassName": "nginx", "rules": [{"host": f"{name}.example.com", "http": {"paths": [{
             "path": "/ray(/|$)(.*)", "pathType": "ImplementationSpecific",
             "backend": {"service": {"name": svc, "port": {"number": 8265}}}}]}}]}},
    ]
    for j in range(6):
        objs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": f"app-{j}", "namespace": ns, "labels": {"app": f"app-{j}"}},
                     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": f"app-{j}"}},
                              "template": {"metadata": {"labels": {"app": f"app-{j}"}}, "spec": {
                                  "containers": [{"name": "app", "image": f"example/app:{j}",
                                                  "ports": [{"containerPort": 8080}],
                                                  "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}}})
        objs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": f"app-{j}", "namespace": ns},
                     "spec": {"selector": {"app": f"app-{j}"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
                 "data": {"LOG_LEVEL": "info", "FEATURE": "on"}})
    return objs


def generate(out: Path, count: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    objs: list[dict] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tcp-services", "namespace": "ingress-nginx"},
         "data": {str(20000 + i): f"team-{i}/ray-{i}-head-svc:10001" for i in range(count // 16)}},
    ]
    i = 0
    while len(objs) < count:
        objs.extend(tenant(i))
        i += 1
    objs = objs[:count]
    for k in range(0, len(objs), 20):
        (out / f"m{k // 20:05d}.yaml").write_text(yaml.safe_dump_all(objs[k:k + 20], sort_keys=False))
    return len(objs)


if __name__ == "__main__":
    n = generate(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 10_000)
    print(f"wrote {n} objects to {sys.argv[1]}")
