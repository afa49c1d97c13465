"""The catalog runs against its own fixtures, and its metadata is checked for honesty.

Each rule has ``fixtures/<rule-name>.yaml`` (and optional scenario files
``<rule-name>.<scenario>.yaml``, each read as an independent set of objects). In a fixture an
object named ``fires-*`` must get at least one finding from the rule and an object named
``dont-fire-*`` must get none; any other object (context such as Services or controller
ConfigMaps) must get none either, unless it carries ``raygate.io/test-expect: fire``.
``raygate.io/test-message: "<text>"`` on a firing object requires that text in a message, so
findings keep quoting what the real system says.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from raygate import engine
from raygate.findings import Layer
from raygate.objects import ObjectSet
from raygate.rules import CATALOG, Rule
from raygate.sources.files import load_paths

FIXTURES = Path(__file__).parent / "fixtures"
RULES = list(CATALOG)


def fixture_files(rule: Rule) -> list[Path]:
    return sorted([*FIXTURES.glob(f"{rule.name}.yaml"), *FIXTURES.glob(f"{rule.name}.*.yaml")])


def runtime_for(objects: ObjectSet) -> object:
    """Runtime state for runtime rules: exactly what doctor builds from a snapshot."""
    from raygate.runtime import runtime_from_objects

    return runtime_from_objects(objects)


def expectation(obj) -> str:
    explicit = obj.annotations.get("raygate.io/test-expect")
    if explicit in ("fire", "no-fire"):
        return explicit
    return "fire" if obj.name.startswith("fires-") else "no-fire"


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_fixtures(rule: Rule) -> None:
    files = fixture_files(rule)
    assert files, f"{rule.code} {rule.name} has no fixture tests/rules/fixtures/{rule.name}.yaml"
    fired = not_fired = 0
    for path in files:
        loaded = load_paths([str(path)])
        assert not loaded.problems, f"fixture {path.name} does not load: {loaded.problems}"
        # A skipped document would make its fires-* expectation pass untested.
        assert not loaded.notices, f"fixture {path.name} has skipped documents: {loaded.notices}"
        objects = ObjectSet(loaded.objects)
        runtime = runtime_for(objects) if rule.needs == "runtime" else None
        result = engine.run(objects, rules=[rule], runtime=runtime)
        assert not result.not_checked, f"{rule.name} crashed on {path.name}: {result.not_checked}"
        by_object: dict[tuple[str, str, str], list] = {}
        for f in result.findings:
            by_object.setdefault((f.object.kind, f.object.namespace, f.object.name), []).append(f)
            assert f.line >= 1 and f.file == str(path) and f.field, f
            assert f.fix.endswith("."), f"{rule.name}: fix text must be a sentence: {f.fix!r}"
        for obj in objects:
            got = by_object.get((obj.kind, obj.namespace, obj.name), [])
            where = f"{path.name}: {obj.ref}"
            if expectation(obj) == "fire":
                fired += 1
                assert got, f"{rule.name} should fire on {where}"
                wanted = obj.annotations.get("raygate.io/test-message")
                if wanted:
                    assert any(wanted in f.message for f in got), \
                        f"{where}: no message contains {wanted!r}; got {[f.message for f in got]}"
            else:
                if obj.name.startswith("dont-fire-"):
                    not_fired += 1
                assert not got, f"{rule.name} should not fire on {where}: {[f.message for f in got]}"
    assert fired, f"{rule.name}: fixtures need at least one fires-* object"
    assert not_fired, f"{rule.name}: fixtures need at least one dont-fire-* object"


def test_every_fixture_belongs_to_a_rule() -> None:
    names = {r.name for r in RULES}
    orphans = [p.name for p in FIXTURES.glob("*.yaml") if p.name.split(".")[0] not in names]
    assert not orphans, f"fixtures without a rule: {orphans}"


LAYER_PREFIX = {Layer.SECURITY: "RG1", Layer.PROTOCOL: "RG2", Layer.INFRASTRUCTURE: "RG3"}


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_metadata_is_complete(rule: Rule) -> None:
    assert re.fullmatch(r"RG\d{3}", rule.code)
    assert rule.code.startswith(LAYER_PREFIX[rule.layer]), f"{rule.code} is not in its layer's range"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert not rule.name.startswith(("no-", "disallow-", "require-", "must-")), \
        "name rules after what they flag, not the fix"
    assert rule.title and not rule.title.endswith(".")
    assert len(rule.rationale) > 80, "the rationale explains why it matters"
    assert rule.fix.endswith("."), "the fix is an imperative sentence"
    assert rule.kinds, "a rule says which kinds it is handed"
    assert rule.needs in ("static", "runtime")
    # The module carries the rule: its file is named after the rule.
    assert rule.module.rsplit(".", 1)[-1] == rule.name.replace("-", "_")
    assert f".{rule.layer.value}." in rule.module


def test_catalog_codes_and_names_are_unique() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


def test_selectors_mean_the_same_everywhere() -> None:
    """--select/--ignore, .raygate.yaml and raygate.io/ignore share rules.matches_any."""
    from raygate import config as config_mod
    from raygate.engine import ignored_by_annotation
    from raygate.objects import KubeObject, Origin
    from raygate.rules import matches_any

    rg101 = CATALOG.find("RG101")
    assert rg101 is not None
    for selector in ("RG101", "rg1", "RG", "snippet-annotation", "security", "all"):
        assert matches_any(rg101, [selector]), selector
    for selector in ("R", "1", "RG2", "protocol", ""):
        assert not matches_any(rg101, [selector]), selector
    assert CATALOG.unknown(["R", "RG1", "protocol"]) == ["R"]
    ingress = KubeObject({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                          "metadata": {"name": "x", "annotations": {"raygate.io/ignore": "security"}}},
                         Origin("x.yaml"))
    assert ignored_by_annotation(ingress, rg101)
    entry = config_mod.Suppression(rules=("RG1",), kind="Ingress")
    assert config_mod.suppressed(entry, rg101, "Ingress", "default", "x", "x.yaml")
    assert not config_mod.suppressed(entry, rg101, "Service", "default", "x", "x.yaml")
