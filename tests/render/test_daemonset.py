"""A controller installed as a DaemonSet (the chart's ``controller.kind: DaemonSet``, common on
bare metal with the host network) is patched as a DaemonSet: the partial object keeps DaemonSet
semantics (no replicas, no rollout strategy, the live selector), the chart's flags survive, and
every output format follows the kind. The fixture is the real chart 4.15.1 rendered by
scripts/render-helm-controller.py (tests/cluster/data)."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from raygate.render import build, outputs
from tests.render.support import run_cli as run, spec_for
from tests.render.test_kustomize import HELM_DAEMONSET, KUBECTL, kubectl_kustomize, python_kustomize

HELM_DEPLOYMENT = HELM_DAEMONSET.with_name("helm-ingress-nginx-controller.yaml")
RAYGATE_FLAGS = ["--tcp-services-configmap=$(POD_NAMESPACE)/tcp-services",
                 "--report-node-internal-ip-address"]


def _chart(kind: str) -> dict:
    path = HELM_DAEMONSET if kind == "DaemonSet" else HELM_DEPLOYMENT
    return next(d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind)


def _chart_args() -> list[str]:
    return _chart("DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]


def _render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str, str]:
    code, out, err = run(capsys, "render", "--auth-mode", "token", "--node", "node-33", *args)
    docs = [d for d in yaml.safe_load_all(out) if d] if code == 0 else []
    return code, docs, out, err


def _workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "DaemonSet")]


@pytest.mark.parametrize("version", ["1.30.0", "1.35.0"])
def test_a_helm_daemonset_is_patched_as_a_daemonset(capsys, version: str) -> None:
    code, docs, out, err = _render(capsys, "--cluster-manifest", str(HELM_DAEMONSET))
    assert code == 0, err
    [ds] = _workloads(docs)
    assert (ds["apiVersion"], ds["kind"]) == ("apps/v1", "DaemonSet")
    # Schema-valid as a DaemonSet; a Deployment's fields would not be (strict: unknown fields).
    kubernetes_validate.validate(copy.deepcopy(ds), version, strict=True)
    bad = copy.deepcopy(ds)
    bad["spec"]["replicas"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)
    spec = ds["spec"]
    assert set(spec) == {"selector", "template"}  # no replicas, strategy or updateStrategy
    # The selector is immutable: the chart's, repeated.
    assert spec["selector"] == _chart("DaemonSet")["spec"]["selector"]
    pod = spec["template"]["spec"]
    assert (pod["hostNetwork"], pod["dnsPolicy"], pod["nodeSelector"]) == \
        (True, "ClusterFirstWithHostNet", {"ingress-ready": "true"})
    # Every flag of the chart, in its place; raygate's appended, and said so.
    assert pod["containers"][0]["args"] == _chart_args() + RAYGATE_FLAGS
    assert "(DaemonSet ingress-nginx/ingress-nginx-controller)" in out
    assert "# A partial controller DaemonSet: only the fields the gateway owns." in out
    assert "Deployment" not in {d["kind"] for d in docs}


def test_the_spec_says_daemonset_without_a_cluster_manifest(capsys) -> None:
    code, docs, _, err = _render(capsys, "--controller-kind", "DaemonSet")
    assert code == 0, err
    [ds] = _workloads(docs)
    assert ds["kind"] == "DaemonSet" and set(ds["spec"]) == {"selector", "template"}
    kubernetes_validate.validate(copy.deepcopy(ds), "1.35.0", strict=True)
    # Nothing says otherwise: today's Deployment, with the pinned rollout strategy.
    code, docs, _, err = _render(capsys)
    assert code == 0, err
    [dep] = _workloads(docs)
    assert dep["kind"] == "Deployment" and dep["spec"]["strategy"]["rollingUpdate"] == \
        {"maxSurge": 0, "maxUnavailable": 1}


@pytest.mark.parametrize("said, manifest, there", [
    ("Deployment", HELM_DAEMONSET, "DaemonSet"),
    ("DaemonSet", HELM_DEPLOYMENT, "Deployment"),
])
def test_a_kind_the_inputs_contradict_is_refused(capsys, said: str, manifest: Path,
                                                 there: str) -> None:
    code, _, out, err = _render(capsys, "--controller-kind", said, "--cluster-manifest", str(manifest))
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"controller.kind is {said} but the controller is a {there}" in err
    assert f"{manifest}:" in err  # where that controller was read
    assert f"set controller.kind: {there}" in err


def test_both_kinds_under_one_name_are_refused(capsys, tmp_path: Path) -> None:
    """The chart's old controller.kind: Both (removed in chart 4.8.3): two controllers."""
    both = tmp_path / "both.yaml"
    both.write_text(HELM_DAEMONSET.read_text() + "---\n" + yaml.safe_dump(_chart("Deployment")))
    code, _, _, err = _render(capsys, "--cluster-manifest", str(both))
    assert code == 2 and "both a Deployment and a DaemonSet" in err and "Traceback" not in err


def test_helm_values_follow_the_kind() -> None:
    ds = outputs.helm_values(spec_for("daemonset-pinned"), build(spec_for("daemonset-pinned")))
    assert ds["controller"]["kind"] == "DaemonSet"
    # The chart feeds updateStrategy to a DaemonSet's updateStrategy: left at its default.
    assert "updateStrategy" not in ds["controller"]
    dep = outputs.helm_values(spec_for("guide"), build(spec_for("guide")))
    assert "kind" not in dep["controller"]  # the chart's default
    assert dep["controller"]["updateStrategy"]["rollingUpdate"]["maxSurge"] == 0


@pytest.mark.parametrize("builder", ["python", "kubectl"])
def test_kustomize_patches_the_users_daemonset(capsys, tmp_path: Path, builder: str) -> None:
    if builder == "kubectl" and not KUBECTL:
        pytest.skip("kubectl is not installed")
    # The default upstream deploy.yaml has no DaemonSet: refused, with what to do.
    code, _, _, err = _render(capsys, "--controller-kind", "DaemonSet", "-o", f"kustomize={tmp_path / 'a'}")
    assert code == 2 and "--upstream" in err and "installs a Deployment" in err
    assert not (tmp_path / "a").exists()
    # A local file without that DaemonSet is refused too.
    code, _, _, err = _render(capsys, "--controller-kind", "DaemonSet", "-o", f"kustomize={tmp_path / 'b'}",
                              "--upstream", str(HELM_DEPLOYMENT))
    assert code == 2 and "has no DaemonSet ingress-nginx/ingress-nginx-controller" in err
    out = tmp_path / "gw"
    code, _, _, err = _render(capsys, "--cluster-manifest", str(HELM_DAEMONSET), "-o", f"kustomize={out}",
                              "--upstream", str(HELM_DAEMONSET))
    assert code == 0, err
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert kustomization["patches"][-1]["target"]["kind"] == "DaemonSet"
    assert (out / "patches" / "controller-daemonset.yaml").is_file()
    docs = kubectl_kustomize(out) if builder == "kubectl" else python_kustomize(out)
    [ds] = _workloads(docs)
    assert ds["kind"] == "DaemonSet"
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "ingress-ready": "true"}
    assert pod["containers"][0]["args"] == _chart_args() + RAYGATE_FLAGS
    assert "updateStrategy" not in ds["spec"] and "strategy" not in ds["spec"]
