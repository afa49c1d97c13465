"""HTTPRoute path matching and prefix rewriting as the Gateway API spec defines them
(``apis/v1/httproute_types.go`` @v1.6.1; facts ``gateway_api_metallb.md`` §2.2): used by the
renderer's tests, the lab and the rules that ask what a browser gets for ``/ray``."""

from __future__ import annotations

from typing import Any, Iterable, Mapping


def prefix_matches(prefix: str, path: str) -> bool:
    """PathPrefix: element-wise, a trailing `/` ignored: `/ray/` matches `/ray`, `/ray/x`,
    not `/rayfoo`. Case-sensitive."""
    p = prefix.rstrip("/")
    return p == "" or path == p or path.startswith(p + "/")


def route(rules: Iterable[Mapping[str, Any]], path: str) -> int | None:
    """Index of the rule that serves ``path`` among one host's rules, or None (404).

    Precedence: an Exact match first, then the longest PathPrefix, then rule order.
    """
    best: tuple[int, int, int] | None = None  # (exact?, prefix length, -index)
    for i, rule in enumerate(rules):
        matches = rule.get("matches") if isinstance(rule, Mapping) else None
        for m in matches or [{"path": {"type": "PathPrefix", "value": "/"}}]:
            p = (m.get("path") if isinstance(m, Mapping) else None) or \
                {"type": "PathPrefix", "value": "/"}
            kind, value = p.get("type", "PathPrefix"), p.get("value", "/")
            if not isinstance(value, str):
                continue
            if kind == "Exact" and path == value:
                key = (1, len(value), -i)
            elif kind == "PathPrefix" and prefix_matches(value, path):
                key = (0, len(value.rstrip("/")), -i)
            else:
                continue
            if best is None or key > best:
                best = key
    return None if best is None else -best[2]


def rewrite_prefix(prefix: str, replacement: str, path: str) -> str:
    """The path the backend sees after ``ReplacePrefixMatch`` (the spec's table: `/foo/bar`
    with `/foo` -> `/xyz` gives `/xyz/bar`; `/foo` and `/foo/` with `/` give `/`)."""
    rest = path[len(prefix.rstrip("/")):]
    if replacement.endswith("/"):
        return replacement + rest.lstrip("/")
    return (replacement + rest) or "/"


def filters_of(rule: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    filters = rule.get("filters")
    return [f for f in filters if isinstance(f, Mapping) and f.get("type") == kind] \
        if isinstance(filters, list) else []


def prefix_replacement(rule: Mapping[str, Any]) -> str | None:
    """The ``replacePrefixMatch`` of the rule's URLRewrite filter, if it has one."""
    for f in filters_of(rule, "URLRewrite"):
        path = (f.get("urlRewrite") or {}).get("path") or {}
        if path.get("type") == "ReplacePrefixMatch":
            value = path.get("replacePrefixMatch", "")
            return value if isinstance(value, str) else ""
    return None
