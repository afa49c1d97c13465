"""Label and field selectors as the API server parses them (query-string syntax).

Label selectors: equality (``a=b``, ``a==b``, ``a!=b``) and set-based (``a in (x,y)``,
``a notin (x)``, ``a``, ``!a``), comma-separated requirements all of which must hold.
Field selectors: ``metadata.name``, ``metadata.namespace`` for every kind, plus the few pod
fields controllers use (``spec.nodeName``, ``status.phase``); anything else is refused with
the API server's ``field label not supported`` message, so a client cannot silently rely on
a selector the fake would ignore (kmock's failure mode, feasibility.md §D).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

Predicate = Callable[[Mapping[str, Any]], bool]


class SelectorError(ValueError):
    pass


_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:\s(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    parts, depth, cur = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def parse_label_selector(selector: str | None) -> Predicate | None:
    """A predicate over a labels mapping, or None when the selector is empty."""
    if not selector or not selector.strip():
        return None
    checks: list[Predicate] = []
    for req in _split(selector):
        m = _EQ_RE.match(req)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: k in labels and labels[k] == v)
            continue
        m = _SET_RE.match(req)
        if not m:
            raise SelectorError(f"unable to parse requirement: {req.strip()!r}")
        negate, key, op, values = m.groups()
        if negate and op:
            raise SelectorError(f"unable to parse requirement: {req.strip()!r}")
        if op:
            allowed = frozenset(v.strip() for v in values.split(",") if v.strip())
            if op == "in":
                checks.append(lambda labels, k=key, a=allowed: labels.get(k) in a)
            else:
                checks.append(lambda labels, k=key, a=allowed: labels.get(k) not in a)
        elif negate:
            checks.append(lambda labels, k=key: k not in labels)
        else:
            checks.append(lambda labels, k=key: k in labels)
    return lambda labels: all(c(labels) for c in checks)


_FIELD_PATHS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
}
_POD_FIELD_PATHS = {
    "spec.nodeName": ("spec", "nodeName"),
    "status.phase": ("status", "phase"),
}


def parse_field_selector(selector: str | None, kind: str) -> Predicate | None:
    """A predicate over a whole object, or None when the selector is empty."""
    if not selector or not selector.strip():
        return None
    allowed = dict(_FIELD_PATHS)
    if kind == "Pod":
        allowed.update(_POD_FIELD_PATHS)
    checks: list[Predicate] = []
    for req in _split(selector):
        m = re.match(r"^\s*([A-Za-z0-9.]+)\s*(==|=|!=)\s*(.*?)\s*$", req)
        if not m:
            raise SelectorError(f"invalid field selector: {req.strip()!r}")
        field, op, value = m.groups()
        if field not in allowed:
            raise SelectorError(f'field label not supported: {field}')
        path = allowed[field]

        def get(obj: Mapping[str, Any], p: tuple[str, ...] = path) -> str:
            cur: Any = obj
            for part in p:
                cur = cur.get(part) if isinstance(cur, dict) else None
            return "" if cur is None else str(cur)

        if op == "!=":
            checks.append(lambda obj, g=get, v=value: g(obj) != v)
        else:
            checks.append(lambda obj, g=get, v=value: g(obj) == v)
    return lambda obj: all(c(obj) for c in checks)
