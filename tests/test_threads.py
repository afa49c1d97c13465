"""The real-users corpus: setups reconstructed from public Ray, KubeRay and ingress-nginx
threads (tests/data/threads/<slug>/, each with a README and a verdict.yaml).

Each setup is loaded with the real loader and judged by the real engine (as `raygate doctor`
judges a snapshot when the setup carries runtime state). A broken setup must name the
thread's root cause at the verdict's minimum severity; a working one (the thread's final fix)
must carry no error-level finding outside what its verdict explains; no setup may raise an
error on a code its verdict forbids. Cases the catalog cannot pass yet are strict xfails
naming their defect class, so merging the fix flips them (and strict makes the flip visible).
"""

from __future__ import annotations

import pytest

from tests import verdicts

VERDICTS = verdicts.thread_verdicts()


def _param(v: verdicts.ThreadVerdict):
    marks = []
    if v.expected_failure:
        marks.append(pytest.mark.xfail(strict=True, reason=v.expected_failure))
    return pytest.param(v, id=v.slug, marks=marks)


def test_corpus_is_large_and_balanced() -> None:
    assert len(VERDICTS) >= 18
    working = [v for v in VERDICTS if v.working]
    assert len(working) >= 4, "several working setups are the false-alarm checks"
    for v in VERDICTS:
        readme = (v.directory / "README.md").read_text()
        assert v.thread in readme, f"{v.slug}: README must name the thread"
        for heading in ("Symptom", "Root cause", "Verdict"):
            assert heading in readme, f"{v.slug}: README lacks a {heading} section"
        assert verdicts.manifests(v.directory), f"{v.slug}: no manifests"


@pytest.mark.parametrize("verdict", [_param(v) for v in VERDICTS])
def test_thread_verdict(verdict: verdicts.ThreadVerdict) -> None:
    judgement = verdicts.judge_thread(verdict)
    assert judgement.named or verdict.working, judgement.explain()
    assert not judgement.forbidden_errors, judgement.explain()
    assert not judgement.forbidden, judgement.explain()
    assert not judgement.unexplained_errors, judgement.explain()
