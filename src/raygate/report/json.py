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
    doc = document(result)
    try:
        return _indented(doc, "\n") + "\n"
    except _NotPlain:
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"


class _NotPlain(Exception):
    """A value ``_indented`` leaves to the json module (not str-keyed JSON data)."""


_string = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _indented(value: Any, newline: str) -> str:
    """``json.dumps(value, indent=2)``, character for character, for plain JSON data (dicts
    with str keys, lists, str, int, float, bool, None). The json module encodes with indent
    in pure Python, one generator step per token: for a report of thousands of findings that
    was ~15% of a whole lint; joining strings directly takes a fraction of it (the encoding
    of each string is the json module's own C function)."""
    if isinstance(value, str):
        return _string(value)  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _NotPlain  # NaN/Infinity: as json spells them, by json itself
        return float.__repr__(value)
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise _NotPlain
            parts.append(_string(k) + ": " + _indented(v, inner))
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[" + inner + ("," + inner).join([_indented(v, inner) for v in value]) + newline + "]"
    raise _NotPlain
