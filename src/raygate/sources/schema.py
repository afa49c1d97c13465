"""Schema checks for the kinds raygate reads: what the API server would refuse to decode.

An Ingress with ``rules: "oops"`` or a tcp-services value that is a list is refused by
``kubectl apply`` (a decoding error, or kubectl's default ``--validate=strict``: unknown
fields, missing required fields), yet every rule would otherwise read it as if it were
valid. Such objects are reported as input problems with file, line and field, and are left
checked by the rules too (they are written for odd shapes), and a problem a rule already
reports on the same field is left to the rule (see ``without_overlap``).

What is checked: types (a string where a list belongs; an unquoted number or boolean where
the API wants a string), unknown fields (``kubectl apply``'s default ``--validate=strict``
refuses them: "strict decoding error: unknown field") and enums. Missing required fields
are not: raygate's own renderer and many GitOps setups write *partial* objects for
server-side apply, which the API server merges before it validates. ``status`` is not
checked: controllers write it and ``kubectl apply`` does not send it.

The schemas are the newest Kubernetes release's OpenAPI schemas (v1.37) as packaged by
kubernetes-validate: a field an older cluster does not know is then not flagged (older
clusters refuse it, but a dump from a newer cluster must not read as broken),
stripped to what this check reads and shipped in ``schemas/`` one file per kind
(``scripts/vendor_schemas.py`` writes them). Only the kinds present are loaded, and the
check walks each object once (kubeconform's role, without its 100 MB of schemas).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from raygate.objects import KubeObject, format_path
from raygate.sources import InputProblem

#: The kinds with a shipped schema (apiVersion, kind), as in scripts/vendor_schemas.py.
SCHEMA_KINDS = {
    ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "IngressClass"),
    ("v1", "Service"), ("v1", "ConfigMap"), ("apps/v1", "Deployment"),
    ("apps/v1", "DaemonSet"), ("v1", "Pod"), ("discovery.k8s.io/v1", "EndpointSlice"),
}
#: Kubernetes version of the shipped schemas.
SCHEMA_VERSION = "v1.37.0"
#: One object gets at most this many messages (a wholly wrong object needs only a few).
MAX_PER_OBJECT = 3

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "null": (type(None),), "integer": (int,), "number": (int, float),
}


class _Node:
    """One schema node compiled for a fast walk: exact Python types (``type(v) in types``;
    bool is not an int here, as in JSON), properties, map values, items, required, enum."""

    __slots__ = ("types", "want", "props", "extra", "closed", "items", "required", "enum")

    def __init__(self) -> None:
        self.types: frozenset[type] | None = None
        self.want = ""
        self.props: dict[str, _Node] | None = None
        self.extra: _Node | None = None
        self.closed = False
        self.items: _Node | None = None
        self.required: tuple[str, ...] = ()
        self.enum: frozenset[Any] | None = None


def _compile(schema: dict[str, Any], defs: dict[str, Any], done: dict[str, _Node]) -> _Node:
    ref = schema.get("$ref")
    if ref is not None:
        if ref not in done:
            done[ref] = _Node()  # recursion-safe: filled in below
            _fill(done[ref], defs[ref], defs, done)
        return done[ref]
    node = _Node()
    _fill(node, schema, defs, done)
    return node


def _fill(node: _Node, schema: dict[str, Any], defs: dict[str, Any], done: dict[str, _Node]) -> None:
    types = schema.get("type")
    if types is not None:
        names = (types,) if isinstance(types, str) else tuple(types)
        node.types = frozenset(t for name in names for t in _PY_TYPES[name])
        node.want = " or ".join(n for n in names if n != "null") or "null"
    if "properties" in schema:
        node.props = {k: _compile(v, defs, done) for k, v in schema["properties"].items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        node.extra = _compile(extra, defs, done)
    node.closed = extra is False and node.props is not None
    if isinstance(schema.get("items"), dict):
        node.items = _compile(schema["items"], defs, done)
    node.required = tuple(schema.get("required", ()))
    if "enum" in schema:
        node.enum = frozenset(schema["enum"])


@lru_cache(maxsize=None)
def _root(kind: str) -> _Node:
    doc = _schema(kind)
    return _compile(doc["root"], doc["defs"], {})


@lru_cache(maxsize=None)
def _schema(kind: str) -> dict[str, Any]:
    # A plain path next to this module (installed packages are directories); the
    # importlib.resources machinery would cost lint's start-up more than the read itself.
    text = (Path(__file__).parent / "schemas" / f"{kind}.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def check(objects: Iterable[KubeObject]) -> list[InputProblem]:
    """One problem per violation (at most MAX_PER_OBJECT per object), for the kinds with a
    shipped schema; other kinds pass unchecked."""
    problems: list[InputProblem] = []
    for obj in objects:
        if (obj.api_version, obj.kind) not in SCHEMA_KINDS:
            continue
        errors: list[tuple[Any, str]] = []
        _walk_top(obj.raw, _root(obj.kind), errors)
        for linked, message in errors[:MAX_PER_OBJECT]:
            path = _flat(linked)
            where = format_path(path) or "(the object)"
            problems.append(InputProblem(
                obj.origin.file, obj.line_of(path), f"{where}: {message} (the API server "
                f"refuses this {obj.kind}; schema of Kubernetes {SCHEMA_VERSION})",
                obj=str(obj.ref), field=format_path(path)))
    return problems


def without_overlap(problems: Iterable[InputProblem], findings: Iterable[Any]) -> list[InputProblem]:
    """Schema problems that no finding already explains: a rule that reports the same field
    of the same object (e.g. RG103 on an unquoted boolean annotation, with the webhook's own
    words) says it better, and saying it twice is noise."""
    covered: dict[tuple[str, str], list[str]] = {}
    for f in findings:
        covered.setdefault((f.file, str(f.object)), []).append(f.field)
    kept = []
    for p in problems:
        fields = covered.get((p.file, p.obj or ""), [])
        if p.field is not None and any(
                p.field.startswith(f) or f.startswith(p.field) for f in fields if f):
            continue
        kept.append(p)
    return kept


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _walk_top(raw: Any, root: _Node, errors: list[tuple[Any, str]]) -> None:
    if type(raw) is not dict:
        return
    props = root.props or {}
    for k, v in raw.items():
        if k in ("apiVersion", "kind", "status"):
            # apiVersion/kind chose this schema; status is written by controllers and not
            # sent by `kubectl apply` (hand-written snapshots often abbreviate it).
            continue
        sub = props.get(k)
        if sub is None:
            if root.closed:
                errors.append((((), k), f"unknown field {k!r}"))
        elif v is not None or sub.types is not None:
            _walk(v, sub, ((), k), errors)
        if len(errors) >= MAX_PER_OBJECT:
            return


def _flat(path: Any) -> tuple[Any, ...]:
    """``((((), "spec"), "rules"), 0)`` -> ``("spec", "rules", 0)``: the walk links paths
    as pairs (cheap) and flattens one only when it is reported."""
    parts: list[Any] = []
    while path:
        path, key = path
        parts.append(key)
    return tuple(reversed(parts))


def _walk(value: Any, node: _Node, path: Any,
          errors: list[tuple[Any, str]]) -> None:
    t = type(value)
    types = node.types
    if types is not None and t not in types:
        errors.append((path, f"expected {node.want}, got {_type_name(value)} {_show(value)}"))
        return
    if t is dict:
        props = node.props
        extra = node.extra
        for k, v in value.items():
            sub = props.get(k) if props is not None else None
            if sub is not None:
                if sub.props is None and sub.items is None and sub.extra is None and \
                        sub.enum is None and (sub.types is None or type(v) in sub.types):
                    continue  # a scalar leaf of the right type: nothing more to check
                _walk(v, sub, (path, k), errors)
            elif extra is not None:
                _walk(v, extra, (path, str(k)), errors)
            elif node.closed:
                errors.append(((path, str(k)), f"unknown field {str(k)!r}"))
            if len(errors) >= MAX_PER_OBJECT:
                return
    elif t is list:
        items = node.items
        if items is not None:
            for i, item in enumerate(value):
                _walk(item, items, (path, i), errors)
                if len(errors) >= MAX_PER_OBJECT:
                    return
    elif node.enum is not None and value is not None and value not in node.enum:
        allowed = ", ".join(sorted(str(e) for e in node.enum))
        errors.append((path, f"{_show(value)} is not one of {allowed}"))
