"""The JSON report: a stable, documented schema (``report/findings.schema.json``).

Version the schema with ``schemaVersion``; add fields freely, never rename or remove one.
"""

from __future__ import annotations

import json
from typing import Any

from raygate import __version__
from raygate.catalog_docs import docs_url
from raygate.findings import Finding, Result

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": f.code,
        "name": f.name,
        "layer": f.layer.value,
        "severity": f.severity.value,
        "title": f.rule.title,
        "object": f.object.to_dict(),
        "location": {"file": f.file, "line": f.line, "column": max(1, f.column)},
        "field": f.field,
        "message": f.message,
        "fix": f.fix,
        "docs": docs_url(f.rule),
        "fingerprint": f.fingerprint,
    }
    if f.assumption:
        out["assumption"] = f.assumption
    if f.symptom:
        out["symptom"] = f.symptom
    return out


def document(result: Result) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "raygate", "version": __version__},
        "summary": {
            "objects": result.objects,
            "files": len(result.files),
            "rules": len(result.rules),
            **result.counts(),
            "suppressed": result.suppressed,
            "baselined": result.baselined,
        },
        "findings": [finding_dict(f) for f in result.findings],
        "problems": [{"file": p.file, "line": p.line, "message": p.message,
                      **({"object": p.obj} if getattr(p, "obj", None) else {}),
                      **({"field": p.field} if getattr(p, "field", None) else {})}
                     for p in result.problems],
        "notices": list(result.notices),
        "notChecked": [{"rule": k, "reason": v} for k, v in sorted(result.not_checked.items())],
    }


def format(result: Result) -> str:  # noqa: A001 - the formatter protocol's name
    return json.dumps(document(result), indent=2, sort_keys=False) + "\n"
