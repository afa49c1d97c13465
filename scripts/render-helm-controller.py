#!/usr/bin/env python3
"""Render the real ingress-nginx Helm chart (with custom controller flags) into the fixture the
apply tests install as "a Helm-installed controller".

Usage (the chart from a kubernetes/ingress-nginx checkout, tag controller-v1.15.1 = chart 4.15.1):
  git --git-dir=<ingress-nginx.git> archive controller-v1.15.1 charts/ingress-nginx | tar -x -C /tmp/chart
  pip install helm-python-sdk   # Helm v4's Go SDK through ctypes; no helm binary needed
  python scripts/render-helm-controller.py /tmp/chart/charts/ingress-nginx \
      > tests/cluster/data/helm-ingress-nginx-controller.yaml

Only the controller Deployment and ConfigMap are kept (what raygate patches); the values are
those a platform team typically sets: SSL passthrough, a default certificate, class-less
Ingresses watched, and a controller ConfigMap key of their own.
"""
from __future__ import annotations

import sys

import yaml

VALUES = {"controller": {
    "extraArgs": {"enable-ssl-passthrough": "", "default-ssl-certificate": "ingress-nginx/wildcard-tls"},
    "watchIngressWithoutClass": True,
    "config": {"use-forwarded-headers": "true"},
}}
KEEP = ("controller-deployment.yaml", "controller-configmap.yaml")


def main(chart_dir: str) -> None:
    import helm_python as helm
    chart = helm.Chart.load(chart_dir)
    rendered = chart.render(VALUES, name="ingress-nginx", namespace="ingress-nginx")
    docs = []
    for path in sorted(rendered):
        if path.rsplit("/", 1)[-1] in KEEP:
            docs += [d for d in yaml.safe_load_all(rendered[path]) if d]
    print(f"# Rendered by scripts/render-helm-controller.py from chart {chart.name} "
          f"{chart.version} with values {VALUES}")
    print(yaml.safe_dump_all(docs, sort_keys=False), end="")


if __name__ == "__main__":
    main(sys.argv[1])
