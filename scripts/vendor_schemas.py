"""Vendor the few Kubernetes object schemas raygate validates, from kubernetes-validate.

    .venv/bin/python scripts/vendor_schemas.py [K8S_VERSION]

kubernetes-validate (a test dependency, ~100 MB of schemas for every Kubernetes release) is
the source; raygate ships only the kinds its rules read, stripped to what validation uses
(types, properties, items, map values, required, enums; no descriptions), one file per kind
so `raygate lint` loads only the kinds present in its input. Re-run on a Kubernetes upgrade;
tests/sources/test_schema.py checks the shipped files match a fresh extraction.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: (apiVersion, kind) -> kubernetes-validate file name; the kinds raygate's rules read.
KINDS = {
    ("networking.k8s.io/v1", "Ingress"): "ingress-networking-v1",
    ("networking.k8s.io/v1", "IngressClass"): "ingressclass-networking-v1",
    ("v1", "Service"): "service-v1",
    ("v1", "ConfigMap"): "configmap-v1",
    ("apps/v1", "Deployment"): "deployment-apps-v1",
    ("apps/v1", "DaemonSet"): "daemonset-apps-v1",
    ("v1", "Pod"): "pod-v1",
    ("discovery.k8s.io/v1", "EndpointSlice"): "endpointslice-discovery-v1",
}
DEFAULT_VERSION = "v1.37.0"
OUT = Path(__file__).resolve().parents[1] / "src" / "raygate" / "sources" / "schemas"
KEEP = ("type", "properties", "items", "additionalProperties", "required", "enum")


def source_dir(version: str) -> Path:
    import kubernetes_validate
    return Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{version}-local-strict"


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _slim(node: Any, defs: dict[str, Any], needed: dict[str, Any]) -> Any:
    """Keep what validation reads; name $refs by their definition and collect those."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        if name not in needed:
            needed[name] = None  # placeholder: recursion-safe
            needed[name] = _slim(defs[name], defs, needed)
        return {"$ref": name}
    if "oneOf" in node:  # IntOrString, Quantity: the union of the branches' types
        types: list[str] = []
        for branch in node["oneOf"]:
            t = branch.get("type", [])
            types += [t] if isinstance(t, str) else t
        return {"type": sorted(set(types))}
    out: dict[str, Any] = {}
    for key in KEEP:
        if key not in node:
            continue
        value = node[key]
        if key == "properties":
            out[key] = {k: _slim(v, defs, needed) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _slim(value, defs, needed)
        elif key == "enum" and any(v is None for v in value) is False and len(value) > 1:
            out[key] = value
        elif key in ("type", "required", "additionalProperties"):
            out[key] = value
    return out


def extract(version: str = DEFAULT_VERSION) -> dict[str, Any]:
    src = source_dir(version)
    defs = json.loads((src / "_definitions.json").read_text())["$defs"]
    files: dict[str, Any] = {}
    for (api_version, kind), name in KINDS.items():
        top = json.loads((src / f"{name}.json").read_text())
        needed: dict[str, Any] = {}
        root = _slim(top, defs, needed)
        # apiVersion/kind are checked by the caller (they select the schema).
        files[f"{kind}.json"] = {"apiVersion": api_version, "kind": kind,
                                 "kubernetes": version, "root": root, "defs": needed}
    return files


def main() -> None:
    version = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VERSION
    OUT.mkdir(parents=True, exist_ok=True)
    for name, doc in extract(version).items():
        (OUT / name).write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
        print(f"{OUT / name}: {(OUT / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
