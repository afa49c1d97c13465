"""Patch semantics and field ownership, as the real API server applies them.

- JSON merge patch (RFC 7386): maps merge, ``null`` deletes, lists are replaced.
- JSON patch (RFC 6902): add/remove/replace/move/copy/test on JSON pointers.
- Strategic merge patch: like a merge patch, but the lists Kubernetes declares as keyed
  (containers by ``name``, Service ports by ``port``, ...) merge item by item, and
  ``$patch: delete`` / ``$patch: replace`` directives work. kmock replaced those lists, which
  silently dropped containers (feasibility.md §D); this is what a controller patch relies on.
- Server-side apply: ownership of every leaf field per field manager. Applying merges the
  applied configuration, removes what the same manager applied before and no longer applies
  (unless someone else owns it too), and refuses to change a value another manager owns
  (409) unless forced. That is what lets ``raygate apply`` own only its tcp-services entries.

Field paths are tuples of segments: a map key is ``"f:<key>"``, an item of a keyed list is
``'k:{"name":"x"}'`` and ``"."`` marks the item itself, the same spelling as ``FieldsV1``.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any, Iterable

FieldPath = tuple[str, ...]

#: Keyed ("associative") lists by field name; the value picks the merge key from the items.
_KEYED_LISTS = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",), "conditions": ("type",), "hostAliases": ("ip",),
    "webhooks": ("name",), "workerGroupSpecs": ("groupName",), "envFrom": None,
    "ports": None,  # containerPort for containers, port for Services: decided per item
    "addresses": None, "ownerReferences": ("uid",),
    # Gateway and ListenerSet spec.listeners: x-kubernetes-list-type map, keys [name]
    # (gateway-api v1.6.1 CRDs).
    "listeners": ("name",),
}

#: Fields the server owns; never part of anyone's managed fields.
_SYSTEM_METADATA = frozenset({"name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                              "generation", "managedFields", "deletionTimestamp", "selfLink"})


class PatchError(ValueError):
    """A patch that cannot be applied (the server answers 422/400)."""


class ConflictError(Exception):
    """Server-side apply would change fields other managers own."""

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        # (manager, apiVersion, ".path") per conflict
        self.conflicts = conflicts
        n = len(conflicts)
        if n == 1:
            mgr, av, path = conflicts[0]
            msg = f'Apply failed with 1 conflict: conflict with "{mgr}" using {av}: {path}'
        else:
            lines = "\n".join(f'- conflict with "{m}" using {av}: {p}' for m, av, p in conflicts)
            msg = f"Apply failed with {n} conflicts:\n{lines}"
        super().__init__(msg)


def merge_keys(field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The merge key of the list under ``field``, or None if it is atomic."""
    if field not in _KEYED_LISTS or not items or not all(isinstance(i, dict) for i in items):
        return None
    keys = _KEYED_LISTS[field]
    if keys is not None:
        return keys if all(k in i for i in items for k in keys) else None
    if field == "ports":
        if all("containerPort" in i for i in items):
            return ("containerPort", "protocol")
        if all("port" in i for i in items):
            return ("port", "protocol")
    return None


def _item_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    # A missing protocol defaults to TCP, as the API server defaults it.
    parts = tuple(sorted((k, item.get(k, "TCP" if k == "protocol" else None)) for k in keys))
    try:
        return _key_text(parts)
    except TypeError:  # a value that cannot be hashed (a list, a map): not worth remembering
        return _key_text.__wrapped__(parts)


@functools.lru_cache(maxsize=4096)
def _key_text(parts: tuple[tuple[str, Any], ...]) -> str:
    """``k:{...}``, the key of a list item in managedFields (a few distinct ones recur on every
    write: remembered, as encoding them was a tenth of the fake's CPU under the scale bench)."""
    return "k:" + json.dumps(dict(parts), separators=(",", ":"))


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): what ``copy.deepcopy`` makes of
    it, a few times faster (no memo; JSON has no cycles or shared parts to keep). Anything
    else is left to ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if kind is list:
        return [json_copy(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


# --------------------------------------------------------------------------- merge patch

def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = json_copy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- JSON patch

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError(f"path not found: /{'/'.join(parts)}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError(f"path not found: /{'/'.join(parts)}") from None
        else:
            raise PatchError(f"path not found: /{'/'.join(parts)}")
    return cur


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = json_copy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        name, parts = op["op"], _pointer(op["path"])
        if name == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PatchError(f"test failed at {op['path']}")
            continue
        if name in ("move", "copy"):
            value = json_copy(_walk(doc, _pointer(op.get("from", ""))))
            if name == "move":
                doc = _remove(doc, _pointer(op["from"]))
            doc = _add(doc, parts, value)
        elif name == "add":
            doc = _add(doc, parts, json_copy(op.get("value")))
        elif name == "remove":
            doc = _remove(doc, parts)
        elif name == "replace":
            _walk(doc, parts)  # must exist
            doc = _remove(doc, parts)
            doc = _add(doc, parts, json_copy(op.get("value")))
        else:
            raise PatchError(f"unknown JSON patch operation {name!r}")
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise PatchError(f"invalid list index {last!r}") from None
            if not 0 <= idx <= len(parent):
                raise PatchError(f"list index {idx} out of range")
            parent.insert(idx, value)
    else:
        raise PatchError(f"cannot add under /{'/'.join(parts[:-1])}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path not found: /{'/'.join(parts)}")
        del parent[last]
    elif isinstance(parent, list):
        try:
            del parent[int(last)]
        except (ValueError, IndexError):
            raise PatchError(f"path not found: /{'/'.join(parts)}") from None
    return doc


# --------------------------------------------------------------------------- strategic merge

def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    if not isinstance(patch, dict):
        return json_copy(patch)
    if patch.get("$patch") == "replace":
        return {k: json_copy(v) for k, v in patch.items() if not k.startswith("$")}
    result = json_copy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $setElementOrder and friends: order is not modelled
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, dict):
            result[key] = strategic_merge(result.get(key), value, key)
        else:
            result[key] = json_copy(value)
    return result


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    plain = [i for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    keys = merge_keys(field, [i for i in current + plain if isinstance(i, dict)] or [None])
    if keys is None or not all(isinstance(i, dict) for i in patch):
        return [json_copy(i) for i in plain]
    out = [json_copy(i) for i in current]
    index = {_item_key(i, keys): n for n, i in enumerate(out)}
    deleted: set[str] = set()
    for item in patch:
        k = _item_key(item, keys)
        if item.get("$patch") == "delete":
            deleted.add(k)
            continue
        if k in index:
            out[index[k]] = strategic_merge(out[index[k]], item, field)
        else:
            index[k] = len(out)
            out.append({kk: json_copy(v) for kk, v in item.items() if not kk.startswith("$")})
    return [i for i in out if _item_key(i, keys) not in deleted]


# --------------------------------------------------------------------------- field ownership

def leaf_paths(obj: dict[str, Any]) -> dict[FieldPath, Any]:
    """Every owned leaf of an object (system metadata and status excluded) with its value."""
    out: dict[FieldPath, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata" and isinstance(value, dict):
            for mk, mv in value.items():
                if mk in _SYSTEM_METADATA:
                    continue
                _collect(("f:metadata", f"f:{mk}"), mk, mv, out)
            continue
        _collect((f"f:{key}",), key, value, out)
    return out


def _collect(prefix: FieldPath, field: str, value: Any, out: dict[FieldPath, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _collect(prefix + (f"f:{k}",), k, v, out)
        return
    if isinstance(value, list):
        keys = merge_keys(field, value)
        if keys is not None:
            for item in value:
                ip = prefix + (_item_key(item, keys),)
                out[ip + (".",)] = None
                for k, v in item.items():
                    _collect(ip + (f"f:{k}",), k, v, out)
            return
    out[prefix] = value


def get_path(obj: Any, path: FieldPath) -> tuple[bool, Any]:
    """``(found, value)`` for a field path in an object."""
    cur = obj
    for seg in path:
        if seg == ".":
            return True, None
        if seg.startswith("f:") and isinstance(cur, dict):
            k = seg[2:]
            if k not in cur:
                return False, None
            cur = cur[k]
        elif seg.startswith("k:") and isinstance(cur, list):
            wanted = json.loads(seg[2:])
            for item in cur:
                if isinstance(item, dict) and _item_key(item, tuple(wanted)) == seg:
                    cur = item
                    break
            else:
                return False, None
        else:
            return False, None
    return True, cur


def delete_path(obj: Any, path: FieldPath) -> None:
    """Remove a field (or, for ``(..., 'k:...', '.')``, a whole list item) in place."""
    if path and path[-1] == ".":
        path = path[:-1]
    found, parent = get_path(obj, path[:-1])
    if not found:
        return
    seg = path[-1]
    if seg.startswith("f:") and isinstance(parent, dict):
        parent.pop(seg[2:], None)
    elif seg.startswith("k:") and isinstance(parent, list):
        wanted = tuple(json.loads(seg[2:]))
        parent[:] = [i for i in parent if not (isinstance(i, dict) and _item_key(i, wanted) == seg)]


def display_path(path: FieldPath) -> str:
    """``('f:data', 'f:10001')`` -> ``.data.10001``; keyed items as ``[name="x"]``."""
    out = []
    for seg in path:
        if seg == ".":
            continue
        if seg.startswith("k:"):
            out.append("[" + ",".join(f"{k}={json.dumps(v)}"
                                      for k, v in json.loads(seg[2:]).items()) + "]")
        else:
            out.append("." + seg[2:])
    return "".join(out)


def ssa_merge(current: Any, applied: Any, field: str = "") -> Any:
    """The applied configuration merged over the live object (maps and keyed lists merge)."""
    if isinstance(applied, dict) and isinstance(current, dict):
        result = json_copy(current)
        for k, v in applied.items():
            result[k] = ssa_merge(current.get(k), v, k)
        return result
    if isinstance(applied, list) and isinstance(current, list):
        keys = merge_keys(field, applied + [i for i in current if isinstance(i, dict)])
        if keys is not None and all(isinstance(i, dict) for i in current):
            out = [json_copy(i) for i in current]
            index = {_item_key(i, keys): n for n, i in enumerate(out)}
            for item in applied:
                k = _item_key(item, keys)
                if k in index:
                    out[index[k]] = ssa_merge(out[index[k]], item, field)
                else:
                    index[k] = len(out)
                    out.append(json_copy(item))
            return out
    return json_copy(applied)


def fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """The nested ``fieldsV1`` document of a set of paths."""
    tree: dict[str, Any] = {}
    for p in sorted(paths):
        node = tree
        for seg in p:
            node = node.setdefault(seg, {})
    return tree


def status_paths(obj: dict[str, Any]) -> dict[FieldPath, Any]:
    """The owned leaves of an object's status (written through the status subresource)."""
    out: dict[FieldPath, Any] = {}
    status = obj.get("status")
    if isinstance(status, dict):
        _collect(("f:status",), "status", status, out)
    return out


def paths_from_fields_v1(tree: Any, prefix: FieldPath = ()) -> set[FieldPath]:
    """The field paths of a ``fieldsV1`` document (the inverse of ``fields_v1``)."""
    out: set[FieldPath] = set()
    if not isinstance(tree, dict):
        return out
    for seg, sub in tree.items():
        if isinstance(sub, dict) and sub:
            out |= paths_from_fields_v1(sub, prefix + (seg,))
        else:
            out.add(prefix + (seg,))
    return out
