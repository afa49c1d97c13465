"""SARIF 2.1.0 for GitHub code scanning: the rule table comes from the rules' own metadata.

GitHub needs ``tool.driver.rules[].id``, a ``shortDescription``, a ``help`` text, results with a
``ruleId`` and a physical location (``artifactLocation.uri`` relative to the repo, a
``region.startLine``), and accepts ``partialFingerprints`` for stable de-duplication.

Locations are relative URIs with ``uriBaseId: %SRCROOT%`` (SARIF 2.1.0 §3.4.4): code scanning
resolves them against the checkout. With ``root`` (the repository root, found by the caller)
absolute paths under it become relative to it and the run says where %SRCROOT% is
(``originalUriBaseIds``), so a report made from any directory points at the right file.
"""

from __future__ import annotations

import json
import os
from typing import Any

from raygate import __version__
from raygate.findings import Result, Severity
from raygate.catalog_docs import docs_url
from raygate.rules import Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


SRCROOT = "%SRCROOT%"


def _location(path: str, root: str | None) -> dict[str, Any]:
    """An ``artifactLocation``: a relative URI under %SRCROOT% for files, else as given."""
    if path in ("-", "") or path.startswith("cluster:"):
        return {"uri": "stdin" if path in ("-", "") else path}
    if os.path.isabs(path):
        if root is None or os.path.commonpath([root, path]) != os.path.normpath(root):
            return {"uri": "file://" + path.replace(os.sep, "/")}
        path = os.path.relpath(path, root)
    rel = os.path.normpath(path).replace(os.sep, "/")
    return {"uri": rel, "uriBaseId": SRCROOT}


def rule_descriptor(r: Rule) -> dict[str, Any]:
    return {
        "id": r.code,
        "name": "".join(p.capitalize() for p in r.name.split("-")),
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.rationale},
        "help": {"text": f"{r.rationale}\n\nFix: {r.fix}",
                 "markdown": f"{r.rationale}\n\n**Fix:** {r.fix}"},
        "helpUri": docs_url(r),
        "defaultConfiguration": {"level": LEVEL[r.severity]},
        "properties": {"tags": [r.layer.value, r.name], "layer": r.layer.value},
    }


def format(result: Result, root: str | None = None) -> str:  # noqa: A001
    rules = sorted({r.code: r for r in result.rules}.values(), key=lambda r: r.code)
    index = {r.code: i for i, r in enumerate(rules)}
    results = []
    for f in result.findings:
        fingerprint = f.fingerprint
        results.append({
            "ruleId": f.code,
            "ruleIndex": index.get(f.code, 0),
            "level": LEVEL[f.severity],
            "message": {"text": f"{f.object}: {f.message}. Fix: {f.fix}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": _location(f.file, root),
                    "region": {"startLine": max(1, f.line),
                               **({"startColumn": f.column} if f.column > 0 else {})},
                },
                "logicalLocations": [{"name": str(f.object), "kind": "resource",
                                      "fullyQualifiedName": f"{f.object}#{f.field}"}],
            }],
            "partialFingerprints": {"raygateFinding/v1": fingerprint},
            "properties": {"field": f.field, "layer": f.layer.value,
                           **({"assumption": f.assumption} if f.assumption else {})},
        })
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "raygate", "version": __version__,
                                "informationUri": "https://github.com/raygate/raygate",
                                "rules": [rule_descriptor(r) for r in rules]}},
            "results": results,
            # Unreadable inputs, so code scanning does not show a run over broken files as clean.
            "invocations": [{
                "executionSuccessful": not result.problems,
                "toolExecutionNotifications": [{
                    "level": "error",
                    "message": {"text": p.message},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": _location(p.file, root),
                        **({"region": {"startLine": p.line}} if p.line else {})}}],
                } for p in result.problems],
            }],
            "columnKind": "utf16CodeUnits",
            **({"originalUriBaseIds": {SRCROOT: {"uri": "file://" + root.rstrip("/").replace(os.sep, "/") + "/"}}}
               if root else {}),
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
