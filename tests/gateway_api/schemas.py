"""The real CRD schemas of Gateway API v1.4.1 / v1.6.1 and of the implementations' policy CRDs
(``../shared/corpus/crds``), as strict jsonschema validators: unknown fields refused, as the
API server's strict field validation would."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CRDS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "crds"

#: bundle -> directories searched, in order (standard before experimental).
BUNDLES = {
    "v1.6.1-standard": ("gateway-api-v1.6.1/standard",),
    "v1.6.1-experimental": ("gateway-api-v1.6.1/experimental", "gateway-api-v1.6.1/standard"),
    "v1.4.1-experimental": ("gateway-api-v1.4.1/experimental",),
}
POLICY_DIRS = ("envoy-gateway-v1.9.0", "nginx-gateway-fabric-v2.6.7")


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def _crds(directory: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(group, kind) -> CRD, for every CRD file of a directory."""
    path = CRDS / directory
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    out = {}
    for f in sorted(path.glob("*.yaml")):
        for crd in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if isinstance(crd, dict) and crd.get("kind") == "CustomResourceDefinition":
                out[(crd["spec"]["group"], crd["spec"]["names"]["kind"])] = crd
    return out


def crd_objects(bundle: str) -> list[dict[str, Any]]:
    """The bundle's CRDs as objects (what ``--cluster-manifest`` or a snapshot would hold)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for d in BUNDLES[bundle]:
        for key, crd in _crds(d).items():
            seen.setdefault(key, crd)
    return list(seen.values())


def schema_for(obj: dict[str, Any], bundle: str) -> dict[str, Any]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return _schema(group, version, obj["kind"], bundle)


@functools.lru_cache(maxsize=None)
def _validator(group: str, version: str, kind: str, bundle: str) -> Any:
    schema = _schema(group, version, kind, bundle)
    return jsonschema.validators.validator_for(schema)(schema)


@functools.lru_cache(maxsize=None)
def _schema(group: str, version: str, kind: str, bundle: str) -> dict[str, Any]:
    obj = {"kind": kind, "apiVersion": f"{group}/{version}"}
    dirs = BUNDLES[bundle] if group.startswith("gateway.networking") else POLICY_DIRS
    for d in dirs:
        crd = _crds(d).get((group, obj["kind"]))
        if crd is None:
            continue
        found = [v for v in crd["spec"]["versions"] if v["name"] == version]
        assert found, f"{obj['kind']} {version} is not in the {bundle} CRD"
        assert found[0].get("served", True), f"{obj['kind']} {version} is not served by {bundle}"
        schema = _strict(found[0]["schema"]["openAPIV3Schema"])
        schema["properties"]["metadata"] = {"type": "object"}
        return schema
    raise AssertionError(f"no CRD for {obj['apiVersion']} {obj['kind']} in {bundle}")


def validate(obj: dict[str, Any], bundle: str) -> None:
    group, _, version = obj["apiVersion"].rpartition("/")
    error = jsonschema.exceptions.best_match(
        _validator(group, version, obj["kind"], bundle).iter_errors(obj))
    if error is not None:
        raise error
