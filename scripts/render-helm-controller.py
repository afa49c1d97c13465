#!/usr/bin/env python3
"""Render the real ingress-nginx Helm chart (with custom controller flags) into the fixtures the
apply tests install as "a Helm-installed controller".

Usage (the chart from a kubernetes/ingress-nginx checkout, tag controller-v1.15.1 = chart 4.15.1):
  git --git-dir=<ingress-nginx.git> archive controller-v1.15.1 charts/ingress-nginx | tar -x -C /tmp/chart
  pip install helm-python-sdk   # Helm v4's Go SDK through ctypes; no helm binary needed
  python scripts/render-helm-controller.py /tmp/chart/charts/ingress-nginx \
      > tests/cluster/data/helm-ingress-nginx-controller.yaml
  python scripts/render-helm-controller.py /tmp/chart/charts/ingress-nginx daemonset \
      > tests/cluster/data/helm-ingress-nginx-daemonset.yaml

Only the controller workload and ConfigMap are kept (what raygate patches; the DaemonSet
variant also keeps the controller Service); the values are
those a platform team typically sets: SSL passthrough, a default certificate, class-less
Ingresses watched, and a controller ConfigMap key of their own. ``daemonset`` adds the bare
metal install of ingress_nginx.md §8: ``controller.kind: DaemonSet`` with the host network.
"""
from __future__ import annotations

import sys

import yaml

VALUES = {"controller": {
    "extraArgs": {"enable-ssl-passthrough": "", "default-ssl-certificate": "ingress-nginx/wildcard-tls"},
    "watchIngressWithoutClass": True,
    "config": {"use-forwarded-headers": "true"},
}}
DAEMONSET_VALUES = {"controller": {
    **VALUES["controller"],
    "kind": "DaemonSet",
    "hostNetwork": True,
    "dnsPolicy": "ClusterFirstWithHostNet",
}}
KEEP = ("controller-deployment.yaml", "controller-configmap.yaml")
#: The DaemonSet fixture also keeps the chart's controller Service, so that a MetalLB gateway's
#: Service patch has its target when the fixture stands in for the upstream manifest.
DAEMONSET_KEEP = ("controller-daemonset.yaml", "controller-configmap.yaml",
                  "controller-service.yaml")


def main(chart_dir: str, variant: str = "deployment") -> None:
    import helm_python as helm
    values = DAEMONSET_VALUES if variant == "daemonset" else VALUES
    chart = helm.Chart.load(chart_dir)
    rendered = chart.render(values, name="ingress-nginx", namespace="ingress-nginx")
    docs = []
    for path in sorted(rendered):
        if path.rsplit("/", 1)[-1] in (DAEMONSET_KEEP if variant == "daemonset" else KEEP):
            docs += [d for d in yaml.safe_load_all(rendered[path]) if d]
    print(f"# Rendered by scripts/render-helm-controller.py from chart {chart.name} "
          f"{chart.version} with values {values}")
    print(yaml.safe_dump_all(docs, sort_keys=False), end="")


if __name__ == "__main__":
    main(*sys.argv[1:3])
