"""The kustomize output, applied over the real upstream deploy.yaml (controller v1.15.1),
yields a controller with every field the guide asks for and every upstream field kept.

Checked twice: with ``kubectl kustomize`` when kubectl is installed, and always with a small
Python application of the same patches (strategic merge for maps and keyed lists, JSON6902
``add``), so the assertion runs on machines without kubectl too.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from raygate.render import Rendered, build, outputs
from raygate.spec import GatewaySpec
from tests.render.support import CORPUS, needs_corpus, spec_for

UPSTREAM = CORPUS / "ingress-nginx" / "deploy-baremetal.yaml"
#: A DaemonSet controller as the chart installs it (controller.kind: DaemonSet, chart 4.15.1,
#: with its ConfigMap and Service): the upstream deploy.yaml has no DaemonSet to patch.
HELM_DAEMONSET = Path(__file__).resolve().parents[1] / "cluster" / "data" / "helm-ingress-nginx-daemonset.yaml"
KUBECTL = shutil.which("kubectl")


def _write(spec: GatewaySpec, rendered: Rendered, root: Path) -> None:
    daemonset = any(o["kind"] == "DaemonSet" for o in rendered.objects)
    upstream = HELM_DAEMONSET if daemonset else UPSTREAM
    if not upstream.is_file():
        pytest.skip(f"{upstream} is absent")
    (root / "upstream").mkdir(parents=True, exist_ok=True)
    text = upstream.read_text()
    if daemonset and spec.placement.mode == "metallb":
        # Behind MetalLB the chart's DaemonSet runs on the pod network: what
        # controller.kind: DaemonSet renders without controller.hostNetwork (the chart omits
        # hostNetwork when false; dnsPolicy is its default ClusterFirst).
        text = text.replace("      hostNetwork: true\n", "").replace(
            "dnsPolicy: ClusterFirstWithHostNet", "dnsPolicy: ClusterFirst")
    (root / "upstream" / "deploy.yaml").write_text(text)
    outputs.write_files(outputs.kustomize_files(spec, rendered, "upstream/deploy.yaml"), root)


# -- a minimal kustomize, enough for our patch shapes -----------------------------------------

_MERGE_KEYS = ("name", "port", "containerPort")


def _smp(base: Any, patch: Any) -> Any:
    """Strategic merge: maps merge, lists of objects merge by their key, the rest replaces."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _smp(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and patch and all(isinstance(p, dict) for p in patch):
        key = next((k for k in _MERGE_KEYS if all(k in p for p in patch)), None)
        if key is not None:
            out = [copy.deepcopy(b) for b in base]
            for p in patch:
                idx = next((i for i, b in enumerate(out) if isinstance(b, dict) and b.get(key) == p[key]), None)
                if idx is None:
                    out.append(copy.deepcopy(p))
                else:
                    out[idx] = _smp(out[idx], p)
            return out
    return copy.deepcopy(patch)


def _json6902_add(doc: dict, path: str, value: Any) -> None:
    parts = path.lstrip("/").split("/")
    cur: Any = doc
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    last = parts[-1]
    if isinstance(cur, list):
        cur.append(value) if last == "-" else cur.insert(int(last), value)
    else:
        cur[last] = value


def python_kustomize(root: Path) -> list[dict]:
    k = yaml.safe_load((root / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for res in k["resources"]:
        docs += [d for d in yaml.safe_load_all((root / res).read_text()) if d]

    def find(kind: str, name: str, namespace: str | None) -> int:
        hits = [i for i, d in enumerate(docs) if d["kind"] == kind and d["metadata"]["name"] == name
                and d["metadata"].get("namespace") == namespace]
        assert len(hits) == 1, f"patch target {kind}/{namespace}/{name} matched {len(hits)} objects"
        return hits[0]

    for p in k["patches"]:
        if "path" in p:
            patch = yaml.safe_load((root / p["path"]).read_text())
            i = find(patch["kind"], patch["metadata"]["name"], patch["metadata"].get("namespace"))
            docs[i] = _smp(docs[i], patch)
        else:
            t = p["target"]
            i = find(t["kind"], t["name"], t.get("namespace"))
            for op in yaml.safe_load(p["patch"]):
                assert op["op"] == "add"
                _json6902_add(docs[i], op["path"], op["value"])
    return docs


def kubectl_kustomize(root: Path) -> list[dict]:
    out = subprocess.run([KUBECTL, "kustomize", str(root)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def apply_kustomization(spec: GatewaySpec, rendered: Rendered, root: Path) -> list[dict]:
    """Build the kustomization over the upstream deploy.yaml (kubectl when available)."""
    _write(spec, rendered, root)
    return kubectl_kustomize(root) if KUBECTL else python_kustomize(root)


def _get(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _upstream(kind: str, name: str) -> dict:
    return _get([d for d in yaml.safe_load_all(UPSTREAM.read_text()) if d], kind, name)


def _assert_subset(upstream: Any, built: Any, path: str = "") -> None:
    """Every upstream field is still there (maps may gain keys, keyed lists may gain items)."""
    if isinstance(upstream, dict):
        assert isinstance(built, dict), path
        for k, v in upstream.items():
            if v is None:  # e.g. ConfigMap data: null, which our patch fills
                continue
            assert k in built, f"upstream field {path}.{k} was dropped"
            _assert_subset(v, built[k], f"{path}.{k}")
    elif isinstance(upstream, list):
        assert isinstance(built, list) and len(built) >= len(upstream), path
        for i, item in enumerate(upstream):
            if isinstance(item, dict) and any(k in item for k in _MERGE_KEYS):
                key = next(k for k in _MERGE_KEYS if k in item)
                match = next(b for b in built if isinstance(b, dict) and b.get(key) == item[key])
                _assert_subset(item, match, f"{path}[{key}={item[key]}]")
            else:
                assert item in built, f"upstream item {path}[{i}] {item!r} was dropped"


def _check_pinned(docs: list[dict], spec: GatewaySpec) -> None:
    dep = _get(docs, "Deployment", "ingress-nginx-controller")
    pod = dep["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "ingress-ready": "true"}
    args = pod["containers"][0]["args"]
    assert args[0] == "/nginx-ingress-controller"
    assert args.count("--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services") == 1
    assert "--report-node-internal-ip-address" in args
    _assert_subset(_upstream("Deployment", "ingress-nginx-controller"), dep)
    cm = _get(docs, "ConfigMap", "ingress-nginx-controller")
    assert cm["data"]["proxy-stream-timeout"] == "3600s"
    _assert_subset(_upstream("ConfigMap", "ingress-nginx-controller"), cm)
    tcp = _get(docs, "ConfigMap", "tcp-services")
    assert tcp["metadata"]["namespace"] == "ingress-nginx"
    assert tcp["data"] == {"9000": "raycluster/ray-cluster-kuberay-head-svc:9000",
                           "10001": "raycluster/ray-cluster-kuberay-head-svc:10001"}
    # Exactly one controller Deployment: patched, not copied beside the upstream one.
    assert sum(d["kind"] == "Deployment" for d in docs) == 1


@needs_corpus
def test_python_application_of_the_patches(tmp_path: Path) -> None:
    spec = spec_for("guide")
    _write(spec, build(spec), tmp_path)
    _check_pinned(python_kustomize(tmp_path), spec)


@needs_corpus
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
def test_kubectl_kustomize_of_the_patches(tmp_path: Path) -> None:
    spec = spec_for("guide")
    _write(spec, build(spec), tmp_path)
    built = kubectl_kustomize(tmp_path)
    _check_pinned(built, spec)
    # The in-test kustomize agrees with the real one on everything we patch.
    mine = python_kustomize(tmp_path)
    for kind, name in (("Deployment", "ingress-nginx-controller"),
                       ("ConfigMap", "ingress-nginx-controller"), ("Service", "ingress-nginx-controller")):
        assert _get(built, kind, name)["spec" if kind != "ConfigMap" else "data"] == \
            _get(mine, kind, name)["spec" if kind != "ConfigMap" else "data"]


@needs_corpus
@pytest.mark.parametrize("use_kubectl", [False, True])
def test_metallb_kustomization_turns_the_upstream_service_into_a_load_balancer(
        tmp_path: Path, use_kubectl: bool) -> None:
    if use_kubectl and KUBECTL is None:
        pytest.skip("kubectl is not on PATH")
    spec = spec_for("metallb")
    _write(spec, build(spec), tmp_path)
    docs = kubectl_kustomize(tmp_path) if use_kubectl else python_kustomize(tmp_path)
    svc = _get(docs, "Service", "ingress-nginx-controller")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] == "192.168.1.240"
    assert "externalIPs" not in svc["spec"] and "loadBalancerIP" not in svc["spec"]
    assert {p["port"] for p in svc["spec"]["ports"]} == {80, 443, 9000, 10001}
    _assert_subset(_upstream("Service", "ingress-nginx-controller"), svc)
    dep = _get(docs, "Deployment", "ingress-nginx-controller")
    pod = dep["spec"]["template"]["spec"]
    assert "hostNetwork" not in pod  # MetalLB replaces the host network
    assert "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller" in pod["containers"][0]["args"]
    _assert_subset(_upstream("Deployment", "ingress-nginx-controller"), dep)
    kinds = {d["kind"] for d in docs}
    assert {"IPAddressPool", "L2Advertisement"} <= kinds


def test_subset_check_catches_a_dropped_field() -> None:
    """The 'all upstream fields kept' assertion can fail."""
    base = {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}}}}
    broken = {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["a"]}]}}}}
    with pytest.raises(AssertionError):
        _assert_subset(base, broken)
