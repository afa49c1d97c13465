"""Golden files pin the exact output of representative specs, byte for byte.

Regenerate after an intended change with ``RAYGATE_UPDATE_GOLDEN=1 pytest tests/render`` and
review the diff like code.
"""

from __future__ import annotations

import os

import pytest

from raygate.render import build, outputs
from tests.render.support import GOLDEN, spec_for

UPDATE = os.environ.get("RAYGATE_UPDATE_GOLDEN") == "1"
CASES = {
    "guide.yaml": ("guide", "yaml"),
    "pinned-serve-tls-allowlist.yaml": ("pinned-serve-tls-allowlist", "yaml"),
    "metallb-custom-names.yaml": ("metallb-custom-names", "yaml"),
    "metallb-helm-values.yaml": ("metallb", "helm-values"),
    "guide-kustomization.yaml": ("guide", "kustomize"),
    "daemonset-pinned.yaml": ("daemonset-pinned", "yaml"),
    "daemonset-pinned-helm-values.yaml": ("daemonset-pinned", "helm-values"),
}


def _text(name: str, fmt: str) -> str:
    spec = spec_for(name)
    rendered = build(spec)
    if fmt == "yaml":
        return outputs.yaml_stream(rendered)
    files = outputs.files_for(fmt, spec, rendered)
    # One golden file per case: every output file, each under a marker line.
    return "".join(f"# ==> {path} <==\n{text}" for path, text in sorted(files.items()))


@pytest.mark.parametrize("golden", sorted(CASES))
def test_output_matches_golden_file(golden: str) -> None:
    text = _text(*CASES[golden])
    path = GOLDEN / golden
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing {path}; run with RAYGATE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), \
        f"{golden} changed; if intended, regenerate with RAYGATE_UPDATE_GOLDEN=1 and review"
