"""Rule documentation generated from the rules' metadata: docs/rules.md and ``explain``.

One source of truth: the ``@rule`` metadata. ``tests/test_docs.py`` fails when the checked-in
``docs/rules.md`` differs from ``markdown(CATALOG)``; regenerate it with
``raygate rules --format markdown > docs/rules.md``.
"""

from __future__ import annotations

import json
from typing import Iterable

from raygate.findings import Layer
from raygate.rules import Rule

LAYER_INTRO = {
    Layer.SECURITY: "What the admission webhook refuses, and what an attacker could reach.",
    Layer.PROTOCOL: "HTTP routing for the Dashboard, Jobs API and Serve; raw TCP for the Ray Client.",
    Layer.INFRASTRUCTURE: "Where the gateway runs, how its address stays stable, how it finds the head.",
}


#: Where docs/rules.md is published; every finding links to its rule's section there.
DOCS_BASE = "https://github.com/raygate/raygate/blob/main/docs/rules.md"


def anchor(r: Rule) -> str:
    return f"{r.code.lower()}-{r.name}"


def docs_url(r: Rule) -> str:
    """The rule's section in docs/rules.md (GitHub's heading anchor for ``### RG101 name``)."""
    return f"{DOCS_BASE}#{anchor(r)}"


def markdown(rules: Iterable[Rule]) -> str:
    rules = list(rules)
    out = ["# raygate rule catalog", "",
           "Generated from the rules' own metadata by `raygate rules --format markdown`; "
           "do not edit by hand.", "",
           "Suppress a rule for one object with the annotation `raygate.io/ignore: \"RG101,name\"`, "
           "or for the project in `.raygate.yaml` (`ignore:` / `suppress:`).", "",
           "| Code | Name | Layer | Severity | Title |", "|---|---|---|---|---|"]
    for r in rules:
        runtime = " (runtime)" if r.needs == "runtime" else ""
        out.append(f"| [{r.code}](#{anchor(r)}) | `{r.name}` | {r.layer.value} | "
                   f"{r.severity.value} | {r.title}{runtime} |")
    for layer in Layer:
        in_layer = [r for r in rules if r.layer is layer]
        if not in_layer:
            continue
        out += ["", f"## {layer.value.capitalize()} layer", "", LAYER_INTRO[layer]]
        for r in in_layer:
            out += ["", f"### {r.code} {r.name}", "", f"**{r.title}.** Severity: {r.severity.value}. "
                    f"Checks: {', '.join(r.kinds)}. Needs: {r.needs} inputs.", "", r.rationale, "",
                    f"**Fix:** {r.fix}"]
            if r.errors:
                out += ["", "What the real system says:", ""]
                out += [f"- `{e}`" for e in r.errors]
            if r.references:
                out += ["", "References: " + ", ".join(f"<{u}>" for u in r.references)]
    return "\n".join(out) + "\n"


def explain(r: Rule) -> str:
    lines = [f"{r.code} {r.name} ({r.layer.value}, {r.severity.value})", "", r.title + ".", "",
             r.rationale, "", f"Fix: {r.fix}"]
    if r.errors:
        lines += ["", "What the real system says:"] + [f"  {e}" for e in r.errors]
    if r.references:
        lines += ["", "References:"] + [f"  {u}" for u in r.references]
    if r.needs == "runtime":
        lines += ["", "Needs runtime state: run `raygate doctor` (live cluster or --snapshot)."]
    return "\n".join(lines)


def json_catalog(rules: Iterable[Rule]) -> str:
    return json.dumps([{"code": r.code, "name": r.name, "layer": r.layer.value,
                        "severity": r.severity.value, "title": r.title, "rationale": r.rationale,
                        "fix": r.fix, "kinds": list(r.kinds), "needs": r.needs,
                        "references": list(r.references), "errors": list(r.errors)}
                       for r in rules], indent=2)
