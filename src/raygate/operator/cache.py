"""The Ray clusters as the operator's watches last delivered them: an informer's store.

A pass used to LIST every Ray kind (500 clusters: ~70 ms of the operator's CPU per pass, most
of it decoding, repeated on every pass of a burst). The watches that wake the loop now also
keep these objects: each watch LISTs its kind, then watches from that list's resourceVersion
and applies each event (what client-go's reflector does for an informer:
k8s.io/client-go/tools/cache/reflector.go @v0.31.0, ListAndWatch). A pass reads the store
while every installed kind's watch is synced; the operator's periodic repair pass, a new
leader's first pass and any pass while a watch is down read with LISTs, as before.

The store lags the API server by the watch's latency. The one lag that matters is our own
write: a pass that annotated a cluster must not read the version from before its patch (it
would tell again: a second Event, and the finalizer patch's resourceVersion precondition
would fail). So the object the API server returned for our patch replaces the cached one,
but only while the cache still holds the version we patched (a newer one, ours or another
writer's, is never replaced by an older one; resourceVersions are compared for equality
only, as the API conventions require: they are opaque).
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _rv(obj: Mapping[str, Any] | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


class ClusterCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._synced: set[str] = set()

    def replace(self, kind: str, objects: Iterable[dict[str, Any]]) -> None:
        """A fresh LIST of ``kind``: its objects, all of them; the kind is synced."""
        fresh = {_key(o): o for o in objects}
        with self._lock:
            self._objects[kind] = fresh
            self._synced.add(kind)

    def unsync(self, kind: str) -> None:
        """``kind``'s watch ended or failed: passes LIST it until it is listed again."""
        with self._lock:
            self._synced.discard(kind)

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED; BOOKMARK and others carry no object)."""
        with self._lock:
            store = self._objects.setdefault(kind, {})
            if event in ("ADDED", "MODIFIED"):
                store[_key(obj)] = obj
            elif event == "DELETED":
                store.pop(_key(obj), None)

    def wrote(self, kind: str, before: Any, stored: dict[str, Any]) -> None:
        """The API server's answer to our write of an object read at resourceVersion
        ``before``: cached now, unless the watch already delivered a later version (or the
        object's deletion)."""
        with self._lock:
            store = self._objects.get(kind)
            if store is not None and before is not None and _rv(store.get(_key(stored))) == before:
                store[_key(stored)] = stored

    def synced(self, kinds: Iterable[str]) -> bool:
        with self._lock:
            return all(k in self._synced for k in kinds)

    def objects(self, kinds: Iterable[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [o for k in kinds for o in self._objects.get(k, {}).values()]
