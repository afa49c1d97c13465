"""Proof: ``migrate(render(spec, ingress-nginx))`` behaves as ``render(spec, gateway-api)``, over
the render tests' spec matrix and per implementation: the same listeners, the same answer for
every probe path on every host, the same TCP ports to the same backends, the same policy
values. Names may differ; behaviour may not."""

from __future__ import annotations

import copy

import pytest

from raygate import spec as spec_mod
from raygate.backends.gateway_api import implementations
from raygate.objects import ObjectSet
from raygate.render import render
from raygate.migrate import Options, migrate
from tests.migrate.semantics import semantics
from tests.render.support import MATRIX, as_objects

# Every profile: the route timeouts (Kong's backendRequest, none on NGF and Traefik) and the
# policies differ per implementation, and render and migrate must agree on each.
IMPLEMENTATIONS = implementations.KEYS


def _gateway_api_spec(name: str, impl: str) -> spec_mod.GatewaySpec:
    data = copy.deepcopy(MATRIX[name])
    data["backend"] = "gateway-api"
    data.setdefault("gatewayApi", {}).update({"gatewayClassName": "ray", "implementation": impl})
    return spec_mod.from_dict(data, f"<{name}>")


def ray_cluster(spec: spec_mod.GatewaySpec) -> dict:
    """The RayCluster the spec names, as a snapshot holds it (migrate finds the Ray Ingresses
    through it, custom head Service names included)."""
    rc = spec.ray_cluster
    head: dict = {"rayStartParams": {}, "template": {"spec": {"containers": [
        {"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}}}
    if rc.head_service:
        head["headService"] = {"metadata": {"name": rc.head_service}}
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster",
            "metadata": {"name": rc.name, "namespace": rc.namespace},
            "spec": {"authOptions": {"mode": "token"}, "headGroupSpec": head}}


def _migrated(name: str, impl: str) -> tuple[list[dict], object]:
    nginx_spec = spec_mod.from_dict(copy.deepcopy(MATRIX[name]), f"<{name}>")
    objects = ObjectSet(as_objects(render(nginx_spec) + [ray_cluster(nginx_spec)]))
    gw = _gateway_api_spec(name, impl)
    result = migrate(objects, Options(implementation=impl, gateway_class="ray",
                                      gateway_namespace=gw.ray_cluster.namespace))
    return result.objects, result


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_migrating_the_ingress_nginx_rendering_equals_the_gateway_api_rendering(
        name: str, impl: str) -> None:
    migrated, result = _migrated(name, impl)
    expected = semantics(render(_gateway_api_spec(name, impl)))
    got = semantics(migrated)
    for key in expected:
        assert got[key] == expected[key], f"{key} differs"


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_the_report_has_no_error_on_envoy_gateway(name: str) -> None:
    _, result = _migrated(name, "envoy-gateway")
    assert not result.errors, [e.why for e in result.errors]
    # Every tcp-services entry is accounted for.
    spec = spec_mod.from_dict(copy.deepcopy(MATRIX[name]))
    assert len([i for i in result.items if i.subject.startswith("tcp-services ")]) == \
        len(spec.exposures.tcp_ports())


def test_the_comparison_can_fail() -> None:
    migrated, _ = _migrated("guide", "envoy-gateway")
    broken = copy.deepcopy(migrated)
    for o in broken:
        if o["kind"] == "HTTPRoute":
            for rule in o["spec"]["rules"]:
                for f in rule.get("filters") or []:
                    if f["type"] == "URLRewrite":
                        f["urlRewrite"]["path"]["replacePrefixMatch"] = "/x/"
    assert semantics(broken)["http"] != semantics(migrated)["http"]


def test_the_comparison_sees_route_timeouts() -> None:
    """A total timeout where render wrote none, or another idle bound, is a difference."""
    migrated, _ = _migrated("guide", "kong")
    for change in ({"request": "1h"}, {"request": "0s", "backendRequest": "1m"}):
        broken = copy.deepcopy(migrated)
        for o in broken:
            if o["kind"] == "HTTPRoute":
                for rule in o["spec"]["rules"]:
                    if "timeouts" in rule:
                        rule["timeouts"] = change
        assert semantics(broken)["http"] != semantics(migrated)["http"], change
