"""The whole catalog over the real-world corpus in ../shared/corpus (KubeRay samples,
ingress-nginx deploy manifests and examples, Gateway API and MetalLB examples, CRDs).

Nothing may crash or be unreadable, and the findings must be the ones the authors' intent
implies: the snippet example is denied under default controller settings, the KubeRay sample
that says "Nginx must handle authentication" exposes an unauthenticated Dashboard, samples
with token auth are not flagged as unauthenticated, the upstream deploy manifests carry no
error (only the retirement/CVE notes), and the Gateway API / MetalLB / CRD files are quiet.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from raygate import engine
from raygate.sources.files import load_paths

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is not present")


@pytest.fixture(scope="module")
def by_file():
    loaded = load_paths([str(CORPUS)])
    result = engine.run(loaded.objects, files=loaded.files)
    assert not loaded.problems, loaded.problems
    assert not result.not_checked, result.not_checked
    found = defaultdict(list)
    for f in result.findings:
        found[str(Path(f.file).relative_to(CORPUS))].append(f)
    return found, loaded


def codes(findings) -> set[str]:
    return {f.code for f in findings}


def test_corpus_loads_completely(by_file) -> None:
    _, loaded = by_file
    assert len(loaded.objects) > 150
    # Only the Helm chart's own files are skipped, each with a notice saying why.
    skipped = [n for n in loaded.notices if "skipped" in n]
    assert skipped and all("helm-ray-cluster" in n for n in skipped)


def test_configuration_snippet_example_is_denied_by_default(by_file) -> None:
    found, _ = by_file
    hits = [f for f in found["ingress-nginx/examples-customization_configuration-snippets_ingress.yaml"]
            if f.code == "RG101"]
    assert hits and hits[0].severity.value == "error"
    assert "Snippet directives are disabled by the Ingress administrator" in hits[0].message
    assert "v1.15.1 default" in hits[0].message  # the corpus carries v1.15.1 controllers


def test_separate_ingress_sample_exposes_an_unauthenticated_dashboard(by_file) -> None:
    found, _ = by_file
    sample = found["kuberay/samples/ray-cluster.separate-ingress.yaml"]
    assert "RG104" in codes(sample)
    assert "RG209" in codes(sample), "the /raycluster-ingress/ sub-path has no slash redirect"


def test_samples_with_token_auth_are_not_called_unauthenticated(by_file) -> None:
    found, _ = by_file
    for name in ("kuberay/samples/ray-cluster.auth-manual.yaml",):
        assert "RG104" not in codes(found.get(name, []))


def test_upstream_controller_manifests_have_no_errors(by_file) -> None:
    found, _ = by_file
    for name in ("deploy-baremetal.yaml", "deploy-cloud.yaml", "deploy-kind.yaml"):
        findings = found[f"ingress-nginx/{name}"]
        assert "RG107" in codes(findings), "ingress-nginx is retired upstream: say so"
        assert not [f for f in findings if f.severity.value == "error"], findings


def test_gateway_api_metallb_and_crds_are_quiet(by_file) -> None:
    found, _ = by_file
    noisy = {k: codes(v) for k, v in found.items()
             if k.startswith(("gateway-api/", "metallb/", "crds/"))}
    assert not noisy, noisy


def test_ray_client_ingress_sample_uses_the_deprecated_class_annotation(by_file) -> None:
    found, _ = by_file
    assert "RG306" in codes(found["kuberay/samples/ingress-rayclient-tls.yaml"])
