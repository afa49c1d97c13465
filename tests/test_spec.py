"""The gateway spec: defaults that reproduce the guide, and one actionable line for every way
a spec can be wrong (file, line, field path, allowed values; never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from raygate import spec as spec_mod
from raygate.errors import SpecError
from tests.render.support import MATRIX


def error_of(text: str, source: str = "raygate.yaml") -> str:
    with pytest.raises(SpecError) as e:
        spec_mod.loads(text, source)
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_defaults_reproduce_the_guide() -> None:
    s = spec_mod.from_dict({})
    assert (s.ray_cluster.name, s.ray_cluster.namespace) == ("ray-cluster-kuberay", "raycluster")
    assert (s.controller.namespace, s.controller.deployment, s.controller.ingress_class) == \
        ("ingress-nginx", "ingress-nginx-controller", "nginx")
    assert s.placement.mode == "pinned-node"
    assert (s.placement.pinned_node.label_key, s.placement.pinned_node.label_value) == ("ingress-ready", "true")
    assert s.exposures.dashboard.path == "/ray" and s.exposures.ray_client.port == 10001
    assert s.exposures.serve is None and not s.exposures.gcs.enabled
    assert s.security.require_token_auth
    assert (s.tuning.body_size, s.tuning.read_timeout, s.tuning.send_timeout) == ("100m", 3600, 3600)


def test_spec_is_frozen() -> None:
    s = spec_mod.from_dict({})
    with pytest.raises(ValidationError):
        s.exposures.ray_client.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_commented_spec_loads_back_equal(name: str) -> None:
    s = spec_mod.from_dict(MATRIX[name])
    text = spec_mod.commented(s)
    assert spec_mod.loads(text) == s
    assert "#" in text


def test_empty_file_and_plain_ports_are_accepted() -> None:
    assert spec_mod.loads("") == spec_mod.from_dict({})
    s = spec_mod.loads("exposures:\n  extraTcpPorts: [9000, {port: 9100, servicePort: 9000}]\n")
    assert [(p.port, p.target) for p in s.exposures.extra_tcp_ports] == [(9000, 9000), (9100, 9000)]
    assert spec_mod.loads("tuning: {streamTimeout: 900, bodySize: 0}").tuning.stream_timeout == "900s"


@pytest.mark.parametrize("text, expected", [
    ("placement:\n  mode: pinned\n",
     "raygate.yaml:2: placement.mode: 'pinned' is not allowed; allowed values: 'pinned-node' or 'metallb'"),
    ("rayCluster:\n  authMode: maybe\n",
     "raygate.yaml:2: rayCluster.authMode: 'maybe' is not allowed; allowed values: 'token', 'disabled' or 'unknown'"),
    ("exposurs: {}\n",
     "raygate.yaml:1: exposurs: unknown field; allowed here: apiVersion, kind, name, rayCluster, controller, placement, exposures, security, tuning"),
    ("security:\n  tls:\n    secret: x\n",
     "raygate.yaml:3: security.tls.secret: unknown field; allowed here: secretName (and 1 more problem)"),
    ("tuning:\n  readTimeout: 3600s\n", "raygate.yaml:2: tuning.readTimeout: '3600s' must be a whole number"),
    ("tuning:\n  bodySize: 100Mi\n", "raygate.yaml:2: tuning.bodySize: '100Mi' is not an nginx size"),
    ("tuning:\n  streamTimeout: soon\n", "raygate.yaml:2: tuning.streamTimeout: 'soon' is not an nginx time"),
    ("exposures:\n  extraTcpPorts:\n    - 9000\n    - 10254\n",
     "raygate.yaml:4: exposures.extraTcpPorts[1].port 10254 is reserved by the ingress-nginx controller (healthz)"),
    ("exposures:\n  extraTcpPorts: [10001]\n",
     "exposures.extraTcpPorts[0].port 10001 is already used by exposures.rayClient.port"),
    ("exposures:\n  dashboard: {path: /ray/}\n", "exposures.dashboard.path: '/ray/' must be a sub-path like /ray"),
    ("exposures:\n  dashboard: {path: '/ray(/|$)(.*)'}\n", "no regex characters"),
    ("exposures:\n  serve: {path: /ray/serve}\n", "exposures.serve.path /ray/serve and exposures.dashboard.path /ray overlap"),
    ("exposures:\n  host: 192.168.1.33\n", "exposures.host: '192.168.1.33' is an IP address"),
    ("security:\n  tls: {secretName: ray-tls}\n", "security.tls needs exposures.host"),
    ("security:\n  allowlist: [10.0.0.0/33]\n", "security.allowlist: '10.0.0.0/33' is not a CIDR"),
    ("placement:\n  mode: metallb\n", "raygate.yaml:1: placement.metallb.ip is required with mode metallb"),
    ("placement:\n  mode: metallb\n", "unless placement.metallb.addresses gives the pool's addresses "
     "or placement.metallb.createPool: false names an existing pool"),
    ("placement:\n  mode: metallb\n  metallb: {ip: 10.0.1.5, addresses: [10.0.0.0/24]}\n",
     "placement.metallb.ip 10.0.1.5 is outside placement.metallb.addresses"),
    ("placement:\n  metallb: {addresses: [10.0.0.9-10.0.0.1]}\n", "is not a CIDR or an 'a-b' address range"),
    ("rayCluster:\n  name: Ray_Cluster\n", "rayCluster.name: 'Ray_Cluster' is not a valid RayCluster name"),
    ("exposures:\n  rayClient: {port: 0}\n", "exposures.rayClient.port: 0 is not a TCP port (1-65535)"),
    ("exposures:\n  rayClient: {port: ten}\n", "exposures.rayClient.port: Input should be a valid integer"),
    ("kind: Gateway\n", "raygate.yaml:1: kind: 'Gateway' is not allowed; allowed values: 'RayGateway'"),
])
def test_invalid_specs_name_the_field_and_the_fix(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_several_problems_are_counted() -> None:
    assert error_of("placement: {mode: x}\ntuning: {bodySize: 1.5g}\n").endswith("(and 1 more problem)")


def test_yaml_and_file_problems(tmp_path: Path) -> None:
    assert error_of("a: [\n").startswith("raygate.yaml:2: invalid YAML")
    assert "must be a mapping" in error_of("- 1\n")
    with pytest.raises(SpecError, match="no such file .*raygate init"):
        spec_mod.load(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="cannot read"):
        spec_mod.load(tmp_path / "bin.yaml")


def test_overrides_replace_file_values_and_are_reported_as_command_line() -> None:
    s = spec_mod.loads("exposures:\n  rayClient: {port: 10001}\n",
                       overrides={"exposures.rayClient.port": 10002, "exposures.host": "ray.example.com"})
    assert s.exposures.ray_client.port == 10002 and s.exposures.host == "ray.example.com"
    with pytest.raises(SpecError, match=r"^command line: exposures\.rayClient\.port: 0 "):
        spec_mod.loads("", overrides={"exposures.rayClient.port": 0})
    with pytest.raises(SpecError, match="not a field path"):
        spec_mod.from_dict({}, overrides={"exposures..port": 1})


def test_metallb_takes_an_address_or_a_pool() -> None:
    by_ip = spec_mod.loads("placement: {mode: metallb, metallb: {ip: 10.0.0.5}}")
    assert by_ip.placement.metallb.ip == "10.0.0.5"
    new_pool = spec_mod.loads("placement: {mode: metallb, metallb: {addresses: [10.0.0.0/29]}}")
    assert new_pool.placement.metallb.ip is None
    existing = spec_mod.loads("placement: {mode: metallb, metallb: {pool: edge, createPool: false}}")
    assert existing.placement.metallb.pool == "edge"


def test_commented_spec_writes_every_field() -> None:
    """A spec with no field at its default loads back equal from its commented form."""
    from tests.render.test_cli import ALL_FIELDS
    s = spec_mod.from_dict(ALL_FIELDS)
    assert spec_mod.loads(spec_mod.commented(s)) == s
