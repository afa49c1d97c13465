"""raygate agrees with ingress-nginx's own verdicts (controller v1.15.1).

Each ``tests/data/controller_cases/<name>.yaml`` is a case derived from an upstream unit or e2e
test or from the controller's source at tag controller-v1.15.1: the first document is

    kind: ControllerCase
    source: "<file>@controller-v1.15.1 <test>"   # where the verdict is written
    verdict: "<what the controller does>"
    expect: {fires: [RG...], quiet: [RG...]}

and the rest are the objects (Ingresses, the controller ConfigMap, the controller Deployment
with its flags). Every static rule runs, enabled by default or not; a case holds when every
code in ``fires`` reports (at any severity) and none in ``quiet`` does. ``bench/fidelity.py``
reads the same files to report the share of cases that hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from raygate import engine
from raygate.objects import ObjectSet
from raygate.rules import CATALOG
from raygate.sources.files import load_paths

CASES = sorted((Path(__file__).parents[1] / "data" / "controller_cases").glob("*.yaml"))
STATIC_RULES = [r for r in CATALOG if r.needs == "static"]


def read_case(path: Path) -> tuple[dict, ObjectSet]:
    header = next(yaml.safe_load_all(path.read_text()))
    loaded = load_paths([str(path)])
    assert not loaded.problems, loaded.problems
    objects = [o for o in loaded.objects if o.kind != "ControllerCase"]
    return header, ObjectSet(objects)


def test_there_are_enough_cases_of_every_kind() -> None:
    assert len(CASES) >= 60
    headers = [next(yaml.safe_load_all(p.read_text())) for p in CASES]
    quiet_only = [h for h in headers if not h["expect"]["fires"]]
    assert len(quiet_only) >= 15, "cases where the controller accepts must be covered too"
    for h in headers:
        assert h["kind"] == "ControllerCase" and "@controller-v1.15.1" in h["source"], h
        assert h["verdict"] and set(h["expect"]) == {"fires", "quiet"}, h


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_controller_case(path: Path) -> None:
    header, objects = read_case(path)
    known = {r.code for r in CATALOG}
    expect = header["expect"]
    assert set(expect["fires"]) | set(expect["quiet"]) <= known, expect
    result = engine.run(objects, rules=STATIC_RULES)
    assert not result.not_checked, result.not_checked
    reported = {f.rule.code for f in result.findings}
    missing = set(expect["fires"]) - reported
    wrong = set(expect["quiet"]) & reported
    assert not missing and not wrong, (
        f"{path.name}: controller verdict: {header['verdict']}\n"
        f"missing {sorted(missing)}, wrongly reported {sorted(wrong)}; all: "
        + "; ".join(f"{f.rule.code} {f.message[:140]}" for f in result.findings))
