"""The one way through: objects -> selected rules -> findings -> Result.

Suppression is handled here once, not in rules: an object annotated
``raygate.io/ignore: "RG101,service-external-ips"`` (or ``all``) and the project's ``.raygate.yaml``
``suppress`` entries silence matching findings; the count is kept so reports can say so.
A rule that raises is a bug in raygate; it becomes a visible "not checked" entry instead of
taking the other rules down.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from raygate import config as config_mod
from raygate.findings import Finding, Result
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import CATALOG, Context, Registry, Rule, matches_any

IGNORE_ANNOTATION = "raygate.io/ignore"


def ignored_by_annotation(obj: KubeObject, rule: Rule) -> bool:
    value = obj.annotations.get(IGNORE_ANNOTATION)
    if not isinstance(value, str):
        return False
    return matches_any(rule, value.split(","))


def run(objects: Iterable[KubeObject] | ObjectSet, *, rules: Sequence[Rule] | None = None,
        registry: Registry = CATALOG, config: config_mod.Config | None = None,
        select: Sequence[str] = (), ignore: Sequence[str] = (), runtime: Any = None,
        files: Sequence[str] = (), problems: Sequence[Any] = (),
        notices: Sequence[str] = ()) -> Result:
    cfg = config or config_mod.Config()
    objset = objects if isinstance(objects, ObjectSet) else ObjectSet(objects)
    if rules is None:
        needs = ("static", "runtime") if runtime is not None else ("static",)
        rules = registry.select(list(select) or list(cfg.select), list(ignore) + list(cfg.ignore),
                                needs=needs)
    findings: list[Finding] = []
    suppressed = 0
    not_checked: dict[str, str] = {}
    for rule in rules:
        ctx = Context(objset, rule, runtime=runtime)
        candidates = objset.of_kind(*rule.kinds) if rule.kinds else tuple(objset)
        for obj in candidates:
            try:
                produced = list(rule.check(obj, ctx))
            except Exception as e:  # a bug in a rule must not hide every other finding
                not_checked[rule.code] = f"internal error on {obj.ref}: {type(e).__name__}: {e}"
                continue
            if not produced:
                continue
            # Suppression depends on the object and the rule only: decide once per object.
            if ignored_by_annotation(obj, rule) or any(
                    config_mod.suppressed(s, rule, obj.kind, obj.namespace, obj.name,
                                          obj.origin.file) for s in cfg.suppress):
                suppressed += len(produced)
            else:
                findings.extend(produced)
    findings.sort(key=Finding.sort_key)
    notices = list(notices) + _unknown_ignores(objset, list(registry))
    return Result(findings=findings, rules=list(rules), objects=len(objset), files=list(files),
                  problems=list(problems), notices=notices, suppressed=suppressed,
                  not_checked=not_checked)


def _unknown_ignores(objects: ObjectSet, catalog: Sequence[Rule]) -> list[str]:
    """A typo in ``raygate.io/ignore`` would silently suppress nothing: say so."""
    out: list[str] = []
    known: dict[str, bool] = {}
    for obj in objects:
        # Straight from the raw dict: this visits every object, most without annotations.
        meta = obj.raw.get("metadata")
        notes = meta.get("annotations") if isinstance(meta, dict) else None
        value = notes.get(IGNORE_ANNOTATION) if isinstance(notes, dict) else None
        if not isinstance(value, str):
            continue
        for key in (v.strip() for v in value.split(",")):
            if key and key not in known:
                known[key] = any(matches_any(r, [key]) for r in catalog)
            if key and not known[key]:
                out.append(f"{obj.origin}: {obj.ref}: {IGNORE_ANNOTATION} names no rule "
                           f"{key!r} (use codes like RG101 or names from `raygate rules`)")
    return out


def apply_baseline(result: Result, recorded: Iterable[str]) -> Result:
    """Leave out findings a baseline already records (by ``Finding.fingerprint``), so a team
    adopting raygate fails only on new ones. Each recorded fingerprint absorbs one finding:
    a second copy of a recorded problem is new."""
    from collections import Counter
    from raygate.records import replace

    budget = Counter(recorded)
    kept: list[Finding] = []
    for f in result.findings:
        if budget[f.fingerprint] > 0:
            budget[f.fingerprint] -= 1
        else:
            kept.append(f)
    return replace(result, findings=kept,
                   baselined=result.baselined + len(result.findings) - len(kept))
