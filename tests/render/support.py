"""Shared data for the render tests: the spec matrix, the corpus location, and a way to turn
rendered dicts into the ``KubeObject``s the engine lints (through real YAML, so findings get
lines as they would from ``raygate render | raygate lint -``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raygate import spec as spec_mod
from raygate.objects import KubeObject
from raygate.render import outputs
from raygate.sources.files import load_text

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / "../shared/corpus").resolve()
GOLDEN = Path(__file__).resolve().parent / "golden"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")

#: name -> spec data. Covers both placements, Serve on/off, extra TCP ports, TLS, allowlist,
#: custom names, GCS, global headers and a DaemonSet controller.
MATRIX: dict[str, dict[str, Any]] = {
    "guide": {
        "rayCluster": {"authMode": "token"},
        "placement": {"pinnedNode": {"nodeName": "node-33"}},
        "exposures": {"extraTcpPorts": [9000]},
    },
    "minimal": {"rayCluster": {"authMode": "token"}},
    "pinned-serve-tls-allowlist": {
        "rayCluster": {"name": "ml", "namespace": "team-a", "authMode": "token"},
        "placement": {"pinnedNode": {"nodeName": "edge-1", "labelKey": "example.com/gateway",
                                     "labelValue": "ray"}},
        "exposures": {"host": "ray.example.com", "serve": {"path": "/serve"},
                      "extraTcpPorts": [9000, {"port": 9100, "servicePort": 9000}]},
        "security": {"allowlist": ["10.0.0.0/8", "192.168.1.0/24"], "tls": {"secretName": "ray-tls"}},
    },
    "metallb": {
        "rayCluster": {"authMode": "token"},
        "placement": {"mode": "metallb", "metallb": {"ip": "192.168.1.240"}},
        "exposures": {"serve": {"path": "/serve"}, "extraTcpPorts": [9000]},
    },
    "metallb-custom-names": {
        "name": "gw",
        "rayCluster": {"name": "prod-ray", "namespace": "ml-prod", "headService": "prod-head",
                       "authMode": "token"},
        "controller": {"namespace": "edge", "deployment": "edge-controller",
                       "service": "edge-controller", "configMap": "edge-config",
                       "tcpServicesConfigMap": "edge-tcp", "ingressClass": "edge",
                       "globalHeaders": {"X-Content-Type-Options": "nosniff"}},
        "placement": {"mode": "metallb",
                      "metallb": {"ip": "10.10.0.5", "addresses": ["10.10.0.0/28"],
                                  "pool": "ray-pool", "externalTrafficPolicy": "Local"}},
        "exposures": {"host": "ray.internal.example", "dashboard": {"path": "/dash"},
                      "rayClient": {"port": 20001}},
        "security": {"allowlist": ["10.0.0.0/8"], "tls": {"secretName": "gw-tls"}},
        "tuning": {"bodySize": "500m", "readTimeout": 7200, "sendTimeout": 7200,
                   "streamTimeout": "2h"},
    },
    "metallb-pool-only": {
        # "An address or a pool": no IP, the Service asks for any address of a new pool.
        "rayCluster": {"authMode": "token"},
        "placement": {"mode": "metallb",
                      "metallb": {"pool": "edge-pool", "addresses": ["192.168.10.0/29"]}},
        "exposures": {"extraTcpPorts": [9000]},
    },
    "metallb-existing-pool-no-client": {
        "rayCluster": {"authMode": "token"},
        "placement": {"mode": "metallb", "metallb": {"ip": "192.168.1.241", "createPool": False}},
        "exposures": {"rayClient": {"enabled": False}},
    },
    # The controller as a DaemonSet (the chart's controller.kind: DaemonSet), pinned as the
    # guide pins it, and behind MetalLB; no controller among the inputs, so the spec says it.
    "daemonset-pinned": {
        "rayCluster": {"authMode": "token"},
        "controller": {"kind": "DaemonSet"},
        "placement": {"pinnedNode": {"nodeName": "node-33"}},
        "exposures": {"extraTcpPorts": [9000], "serve": {"path": "/serve"}},
    },
    "daemonset-metallb": {
        "rayCluster": {"authMode": "token"},
        "controller": {"kind": "DaemonSet"},
        "placement": {"mode": "metallb", "metallb": {"ip": "192.168.1.242"}},
    },
    "gcs-enabled": {
        "rayCluster": {"authMode": "token"},
        "exposures": {"gcs": {"enabled": True}},
    },
}


def spec_for(name: str) -> spec_mod.GatewaySpec:
    return spec_mod.from_dict(MATRIX[name], f"<matrix:{name}>")


def as_objects(rendered_objects: list[dict[str, Any]], file: str = "rendered.yaml") -> list[KubeObject]:
    """Rendered dicts -> KubeObjects, via a real YAML round trip."""
    text = "".join("---\n" + outputs.dump(o) for o in rendered_objects)
    result = load_text(text, file)
    assert not result.problems, result.problems
    return result.objects


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real entry point (with its error handling) in-process: (exit code, out, err)."""
    from raygate.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
