"""Lint agrees with Gateway API's own conformance suite (v1.6.1) on what controllers refuse.

``tests/data/gateway_conformance/`` holds the objects each conformance test applies
(``<case>.yaml``) and the suite's base objects (``base.yaml``); ``expected.yaml`` holds the
verdicts the tests' Go assertions demand. The real loader and engine run the Gateway API rules
over base + case, and each finding's ``reason`` is compared with the suite's:

* a route, Gateway or ListenerSet the suite expects refused must get exactly that reason
  (plus, at most, the ``also`` reasons a controller sets but the test does not assert);
* every object the suite expects accepted must get no finding at all;
* agreement over all objects in scope must reach 90%.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from raygate import engine
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import CATALOG
from raygate.sources.files import load_paths

DATA = Path(__file__).resolve().parents[1] / "data" / "gateway_conformance"
EXPECTED = yaml.safe_load((DATA / "expected.yaml").read_text(encoding="utf-8"))
JUDGED_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute", "Gateway",
                "ListenerSet", "XListenerSet")
RULES = [r for r in CATALOG if r.code in ("RG160", "RG360", "RG361", "RG362", "RG363", "RG364")]
CASES = sorted(p.name for p in DATA.glob("*.yaml") if p.name not in ("base.yaml", "expected.yaml"))


def key(obj: Any) -> str:
    return f"{obj.kind} {obj.namespace}/{obj.name}"


def reasons_by_object(objects: list[KubeObject]) -> dict[str, set[str]]:
    result = engine.run(ObjectSet(objects), rules=RULES)
    assert not result.not_checked, result.not_checked
    found: dict[str, set[str]] = {}
    for f in result.findings:
        found.setdefault(f"{f.object.kind} {f.object.namespace}/{f.object.name}", set()).add(
            f.extra["reason"])
    return found


def load_case(name: str) -> tuple[list[KubeObject], list[KubeObject]]:
    loaded = load_paths([str(DATA / "base.yaml"), str(DATA / name)])
    assert not loaded.problems, loaded.problems
    case = [o for o in loaded.objects if o.origin.file.endswith(name) and o.kind in JUDGED_KINDS]
    return loaded.objects, case


def judge(name: str, objects: list[KubeObject], case: list[KubeObject],
          expected: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(object, agrees, detail) for every object of the case in scope."""
    skip = (EXPECTED.get("out_of_scope") or {}).get(name) or {}
    found = reasons_by_object(objects)
    out = []
    for obj in case:
        k = key(obj)
        if "*" in skip or k in skip:
            continue
        want = expected.get(k) or {}
        reasons = set(want.get("reasons") or [])
        allowed = reasons | set(want.get("also") or [])
        got = found.get(k, set())
        out.append((f"{name}: {k}", reasons <= got <= allowed,
                    f"expected {sorted(reasons) or 'accepted'}, got {sorted(got) or 'nothing'}"))
    return out


def all_verdicts() -> list[tuple[str, bool, str]]:
    verdicts = []
    for name in CASES:
        objects, case = load_case(name)
        verdicts += judge(name, objects, case, (EXPECTED["cases"] or {}).get(name) or {})
    for variant in EXPECTED.get("variants") or []:
        objects, case = load_case(variant["case"])
        objects = [o for o in objects if key(o) != variant["without"]]
        verdicts += judge(variant["case"] + " without " + variant["without"], objects, case,
                          variant["expect"])
    return verdicts


@pytest.fixture(scope="module")
def verdicts() -> list[tuple[str, bool, str]]:
    if not DATA.is_dir():
        pytest.skip("conformance fixtures are absent")
    return all_verdicts()


def test_the_fixtures_cover_every_reason(verdicts) -> None:
    reasons = {r for case in EXPECTED["cases"].values() for v in case.values() for r in v["reasons"]}
    assert reasons >= {"NotAllowedByListeners", "NoMatchingListenerHostname", "NoMatchingParent",
                       "RefNotPermitted", "BackendNotFound", "InvalidKind", "ProtocolConflict",
                       "HostnameConflict", "InvalidRouteKinds", "NotAllowed"}
    refused = sum(len(c) for c in EXPECTED["cases"].values()) + len(EXPECTED["variants"])
    assert refused >= 50 and len(verdicts) >= 250


def test_agreement_with_the_conformance_suite_is_at_least_90_percent(verdicts) -> None:
    agree = sum(ok for _, ok, _ in verdicts)
    disagreements = [f"{where}: {detail}" for where, ok, detail in verdicts if not ok]
    assert agree / len(verdicts) >= 0.9, "\n".join(disagreements)


def test_every_refused_object_gets_its_reason(verdicts) -> None:
    missed = [f"{w}: {d}" for w, ok, d in verdicts if not ok and "expected accepted" not in d]
    assert not missed, "\n".join(missed)


def test_every_accepted_object_stays_quiet(verdicts) -> None:
    noisy = [f"{w}: {d}" for w, ok, d in verdicts if not ok and "expected accepted" in d]
    assert not noisy, "\n".join(noisy)


def test_the_measure_can_fail() -> None:
    """Dropping the ReferenceGrant of an accepted case must turn it into a RefNotPermitted."""
    objects, case = load_case("httproute-reference-grant.yaml")
    assert all(ok for _, ok, _ in judge("x", objects, case, {}))
    without = [o for o in objects if o.kind != "ReferenceGrant"]
    assert not all(ok for _, ok, _ in judge("x", without, case, {}))
