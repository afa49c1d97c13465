"""Probe as a newcomer meets it (issue 12, point 5): an unreachable gateway reads as
unreachable, and the Ray token comes straight from KubeRay's Secret through the real cluster
client against the fake API server."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from typing import Iterator

import pytest

from tests.fakeapi.server import FakeApiServer

TOKEN = "s3cr3t-ray-token"


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port that is bound (so nobody else takes it) but not listening: connections are
    refused, deterministically."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_TOKEN", "KUBECONFIG")}
    return subprocess.run([sys.executable, "-m", "raygate", "probe", *args], capture_output=True,
                          text=True, timeout=120, env={**env, "COLUMNS": "200"})


def test_an_unreachable_gateway_reads_as_unreachable(refusing_port: int) -> None:
    url = f"http://127.0.0.1:{refusing_port}/ray/"
    proc = probe(url, "--token", TOKEN, "--no-ray", "--gcs-port", str(refusing_port),
                 "--agent-port", str(refusing_port), "-o", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and not report["ok"]
    assert report["unreachable"] and "connection refused" in report["unreachable"]
    # Nothing reads as healthy: closed ports on a host that answers nothing prove nothing.
    assert not [c for c in report["checks"] if c["verdict"] == "pass"], report["checks"]
    table = probe(url, "--token", TOKEN, "--no-ray", "--gcs-port", str(refusing_port),
                  "--agent-port", str(refusing_port))
    assert "gateway unreachable" in table.stdout and "PASS" not in table.stdout


def _kuberay_secret(name: str, namespace: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_token_from_secret_reads_kuberays_secret(fake_api: FakeApiServer) -> None:
    from raygate.cli.probe import token_from_cluster
    fake_api.add(_kuberay_secret("ray-cluster-kuberay", "raycluster", auth_token=TOKEN + "\n"))
    assert token_from_cluster("raycluster/ray-cluster-kuberay",
                              kubeconfig=fake_api.kubeconfig_path) == TOKEN
    fake_api.add(_kuberay_secret("mine", "ml", token=TOKEN))
    assert token_from_cluster("ml/mine:token", kubeconfig=fake_api.kubeconfig_path) == TOKEN


@pytest.mark.parametrize("ref,needle", [
    ("raycluster/absent", "Secret raycluster/absent not found"),
    ("raycluster/other", "has no key 'auth_token' (keys: password)"),
    ("no-slash", "expected NAMESPACE/NAME[:KEY]"),
])
def test_token_from_secret_errors_are_one_line_exit_2(fake_api: FakeApiServer, ref: str,
                                                      needle: str, refusing_port: int) -> None:
    fake_api.add(_kuberay_secret("other", "raycluster", password="x"))
    proc = probe(f"http://127.0.0.1:{refusing_port}/ray/", "--token-from-secret", ref,
                 "--kubeconfig", fake_api.kubeconfig_path, "--no-ray")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
