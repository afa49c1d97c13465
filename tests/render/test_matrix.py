"""Every spec of the matrix renders objects that the API server, MetalLB's CRDs and
raygate's own catalog would all accept, deterministically and without anything risky."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from raygate import engine
from raygate.backends import ingress_nginx as ingress_model
from raygate.findings import Severity
from raygate.objects import ObjectSet
from raygate.render import build, outputs, render
from tests.render.support import CORPUS, MATRIX, as_objects, spec_for
from tests.render.test_kustomize import HELM_DAEMONSET, apply_kustomization

SPECS = sorted(MATRIX)
CRD_KINDS = {"IPAddressPool": "metallb.io_ipaddresspools.yaml",
             "L2Advertisement": "metallb.io_l2advertisements.yaml"}


def _rendered(name: str) -> list[dict]:
    return render(spec_for(name), allow_unauthenticated=False)


@pytest.mark.parametrize("version", ["1.30.0", "1.35.0"])
@pytest.mark.parametrize("name", SPECS)
def test_objects_validate_against_kubernetes_schemas(name: str, version: str) -> None:
    checked = 0
    for obj in _rendered(name):
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(copy.deepcopy(obj), version, strict=True)
        except kubernetes_validate.ValidationError as e:  # keep the report short
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for {version}: "
                        f"{e.message if hasattr(e, 'message') else str(e)[:300]}")
        checked += 1
    assert checked >= 4


def _crd_schema(kind: str) -> dict:
    path = CORPUS / "crds" / CRD_KINDS[kind]
    if not path.is_file():
        pytest.skip("../shared/corpus/crds is absent")
    crd = yaml.safe_load(path.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    return version["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("name", [n for n in SPECS if MATRIX[n].get("placement", {}).get("mode") == "metallb"])
def test_metallb_objects_validate_against_crd_schemas(name: str) -> None:
    objs = [o for o in _rendered(name) if o["kind"] in CRD_KINDS]
    for obj in objs:
        assert obj["apiVersion"] == "metallb.io/v1beta1"
        jsonschema.validate(obj, _crd_schema(obj["kind"]))
    created = MATRIX[name]["placement"]["metallb"].get("createPool", True)
    assert sorted(o["kind"] for o in objs) == (["IPAddressPool", "L2Advertisement"] if created else [])


def test_crd_schema_check_can_fail() -> None:
    """The MetalLB schema check is real: a wrong field type is refused."""
    pool = next(o for o in _rendered("metallb") if o["kind"] == "IPAddressPool")
    bad = copy.deepcopy(pool)
    bad["spec"]["autoAssign"] = "no"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, _crd_schema("IPAddressPool"))


def _ours(result, objs) -> list:
    keys = {(o.kind, o.namespace, o.name) for o in objs}
    return [f for f in result.findings
            if (f.object.kind, f.object.namespace, f.object.name) in keys
            and f.severity.rank >= Severity.WARNING.rank]


@pytest.mark.parametrize("name", SPECS)
def test_catalog_finds_nothing_at_warning_or_above(name: str) -> None:
    """The whole catalog, with no controller in the inputs (so rules assume v1.15.1)."""
    if name == "gcs-enabled":
        pytest.skip("GCS exposure is flagged on purpose; see test_gcs_exposure_is_flagged")
    objs = as_objects(_rendered(name))
    result = engine.run(objs)
    bad = _ours(result, objs)
    assert not bad, [(f.code, str(f.object), f.field, f.message) for f in bad]
    assert not result.not_checked, result.not_checked


@pytest.mark.parametrize("name", SPECS)
def test_catalog_clean_with_the_patched_upstream_controller(name: str, tmp_path: Path) -> None:
    """Same, with the real v1.15.1 controller Deployment/Service/ConfigMap our patches land on
    (the kustomize output applied over the upstream baremetal deploy.yaml; for a DaemonSet,
    over the chart's DaemonSet, ConfigMap and Service)."""
    if name == "gcs-enabled":
        pytest.skip("GCS exposure is flagged on purpose")
    spec = spec_for(name)
    if spec.controller.namespace != "ingress-nginx":
        pytest.skip("the upstream deploy.yaml installs into ingress-nginx")
    built = apply_kustomization(spec, build(spec), tmp_path)
    objs = as_objects(built, "kustomized.yaml")
    controllers = ingress_model.find_controllers(ObjectSet(objs))
    assert controllers and controllers[0].version == (1, 15, 1)
    result = engine.run(objs)
    ours = [o for o in objs if o.labels.get("app.kubernetes.io/managed-by") == "raygate"
            or (o.kind, o.name) in {("Deployment", spec.controller.deployment),
                                    ("DaemonSet", spec.controller.deployment),
                                    ("Service", spec.controller.service),
                                    ("ConfigMap", spec.controller.config_map)}]
    kinds = [o.kind for o in objs if o.name == spec.controller.deployment
             and o.kind in ("Deployment", "DaemonSet")]
    assert kinds == [spec.controller.kind or "Deployment"]  # patched, never a second one
    bad = _ours(result, ours)
    assert not bad, [(f.code, str(f.object), f.field, f.message) for f in bad]


def test_gcs_exposure_is_flagged() -> None:
    """The catalog sees what the renderer warns about (when the rule exists)."""
    rendered = build(spec_for("gcs-enabled"))
    assert any("GCS" in w for w in rendered.warnings)
    tcp = next(o for o in rendered.objects if o["kind"] == "ConfigMap" and "6379" in o.get("data", {}))
    assert tcp["data"]["6379"] == "raycluster/ray-cluster-kuberay-head-svc:6379"
    from raygate.rules import CATALOG
    if CATALOG.find("gcs-port-exposed") is None:
        pytest.skip("rule gcs-port-exposed not in the catalog yet")
    codes = {f.name for f in engine.run(as_objects(rendered.objects)).findings}
    assert "gcs-port-exposed" in codes


@pytest.mark.parametrize("name", SPECS)
def test_output_is_deterministic(name: str) -> None:
    first = outputs.yaml_stream(build(spec_for(name)))
    second = outputs.yaml_stream(build(spec_for(name)))
    assert first == second
    assert first.encode() == second.encode()
    # A DaemonSet is patched in the user's manifest: upstream's deploy.yaml has none.
    upstream = str(HELM_DAEMONSET) if spec_for(name).controller.kind == "DaemonSet" \
        else outputs.UPSTREAM_DEPLOY
    for fmt in ("helm-values", "kustomize"):
        a = outputs.files_for(fmt, spec_for(name), build(spec_for(name)), upstream)
        b = outputs.files_for(fmt, spec_for(name), build(spec_for(name)), upstream)
        assert a == b


_RISK_MAX = 1  # Medium


@pytest.mark.parametrize("name", SPECS)
def test_nothing_risky_and_every_value_accepted_by_the_validators(name: str) -> None:
    risks = ingress_model.annotation_risks()
    ctl = spec_for(name).controller
    patches = {("Node", None), ("Deployment", ctl.deployment), ("DaemonSet", ctl.deployment),
               ("ConfigMap", ctl.config_map), ("Service", ctl.service)}
    for obj in _rendered(name):
        meta = obj["metadata"]
        managed = (meta.get("labels") or {}).get("app.kubernetes.io/managed-by")
        if (obj["kind"], None if obj["kind"] == "Node" else meta["name"]) in patches:
            # A patch over another tool's object must not claim it (Helm conflicts).
            assert managed is None, obj
        else:
            assert managed == "raygate", obj
        if obj["kind"] == "Service":
            assert "externalIPs" not in obj["spec"] and "loadBalancerIP" not in obj["spec"]
        if obj["kind"] != "Ingress":
            continue
        for key, value in obj["metadata"]["annotations"].items():
            assert not key.endswith("-snippet")
            if not key.startswith(ingress_model.PREFIX):
                assert key == "raygate.io/ignore" and value == "ray-client-not-exposed"
                continue
            assert key in risks, f"unknown annotation {key} would be ignored silently"
            assert risks[key][0] <= _RISK_MAX, f"{key} is above Medium"
            short = key.removeprefix(ingress_model.PREFIX)
            if short in ("proxy-read-timeout", "proxy-send-timeout"):
                assert value.isdigit()  # ValidateInt: "3600s" would silently stay 60
            if short == "proxy-body-size":
                assert ingress_model.SIZE_RE.match(value)
            if short == "rewrite-target":
                assert ingress_model.REGEX_PATH_WITH_CAPTURE_RE.match(value)
            if short == "permanent-redirect":
                # URLIsValidRegex: alphanumerics, - . _ ~ / : and , : ? & =
                assert re.match(r"^[\-._~a-zA-Z0-9/:,?&=]*$", value)
        for rule in obj["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                if not ingress_model.VALID_PATH_TYPE_RE.match(p["path"]):
                    # strict-validate-path-type: regex paths only as ImplementationSpecific
                    assert p["pathType"] == "ImplementationSpecific"


@pytest.mark.parametrize("name", SPECS)
def test_gcs_only_when_enabled(name: str) -> None:
    spec = spec_for(name)
    data = {}
    for o in _rendered(name):
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == spec.controller.tcp_services_config_map:
            data = o["data"]
    mapped_to_gcs = [k for k, v in data.items() if v.endswith(":6379")]
    assert bool(mapped_to_gcs) == spec.exposures.gcs.enabled


def test_matrix_covers_what_the_issue_asks() -> None:
    specs = [spec_for(n) for n in SPECS]
    assert {s.placement.mode for s in specs} == {"pinned-node", "metallb"}
    assert any(s.exposures.serve for s in specs) and any(not s.exposures.serve for s in specs)
    assert any(s.exposures.extra_tcp_ports for s in specs)
    assert any(s.security.tls for s in specs) and any(s.security.allowlist for s in specs)
    assert any(s.controller.namespace != "ingress-nginx" for s in specs)
    assert {(s.controller.kind, s.placement.mode) for s in specs} >= {
        ("DaemonSet", "pinned-node"), ("DaemonSet", "metallb")}
    metallb = [s.placement.metallb for s in specs if s.placement.mode == "metallb"]
    assert any(m.ip for m in metallb) and any(m.ip is None for m in metallb)  # address or pool


@pytest.mark.parametrize("name", [n for n in SPECS if MATRIX[n].get("placement", {}).get("mode") == "metallb"])
def test_metallb_service_asks_for_its_address_or_its_pool(name: str) -> None:
    """No externalIPs, no spec.loadBalancerIP: one MetalLB annotation, the IP when there is one."""
    spec = spec_for(name)
    m = spec.placement.metallb
    svc = next(o for o in _rendered(name) if o["kind"] == "Service")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert "externalIPs" not in svc["spec"] and "loadBalancerIP" not in svc["spec"]
    expected = ({"metallb.io/loadBalancerIPs": m.ip} if m.ip
                else {"metallb.io/address-pool": m.pool})
    assert svc["metadata"]["annotations"] == expected
    pool = [o for o in _rendered(name) if o["kind"] == "IPAddressPool"]
    if pool and not m.ip:
        assert pool[0]["metadata"]["name"] == m.pool
        assert pool[0]["spec"]["addresses"] == list(m.addresses)
