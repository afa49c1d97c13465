"""What the operator's watches last delivered, per kind: an informer's store.

A pass used to LIST every kind it reads: the Ray clusters (500 clusters: ~70 ms of the
operator's CPU per pass, most of it decoding), the port records and the operator's routes
(40-70 ms more at 500, on the critical path of every pass of a burst). Each is now watched
(``Watched``: kind, namespace, label selector): the watch LISTs its selection, then watches
from that list's resourceVersion and applies each event (what client-go's reflector does
for an informer: k8s.io/client-go/tools/cache/reflector.go @v0.31.0, ListAndWatch). A pass
reads the store while the kind's watch is synced; the operator's periodic repair pass, a new
leader's first pass and any pass while a watch is down read with LISTs, as before.

The store lags the API server by the watch's latency. What matters is our own writes:

* A Ray cluster we patched must not be read at the version from before the patch (we would
  tell again: a second Event, and the finalizer patch's resourceVersion precondition would
  fail). So the object the API server returned for our patch replaces the cached one, but
  only while the cache still holds the version we patched (``wrote``; resourceVersions are
  compared for equality only, as the API conventions require: they are opaque).
* A port record we created or deleted, a route we applied or deleted, must read as written
  from the next pass on, whatever the watch has delivered: a record missing from a lagging
  store would make a pass claim a second port for its cluster (and the repair keep the lowest:
  a moved port once the second was told). The API server's answer to these writes is not
  read (a route apply's body is not parsed), so there is no resourceVersion to order by.
  Instead the write is *expected* (``expect``), before it is sent: the cache shows it over the
  store until the watch delivers that write's result, recognised by what was written
  (``same``), not by order. Registered before the request, the expectation is in place before
  any event of the write can arrive; a late event of an older write (a record's previous
  holder, a route's previous spec) does not clear it. This is client-go's
  ControllerExpectations (k8s.io/kubernetes/pkg/controller/controller_utils.go @v1.31.0:
  a controller does not act on its cache for an object until the watch has shown the
  creations and deletions it made), keeping the written object itself.
* A LIST made after all our writes returned (the repair pass, a pass while the kind is not
  synced) is the truth about them: an expectation it contradicts (the object deleted meanwhile
  by someone else) is dropped (``settle``), so nothing is shown that the API server no longer
  holds for longer than until the next such LIST.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

Key = tuple[str, str]


@dataclass(frozen=True)
class Watched:
    """What one watch selects, and what a pass LISTs in its place when it is not synced.

    The cache keeps one selection per kind (the operator watches each kind once)."""

    api_version: str
    kind: str
    #: ``*``: every namespace.
    namespace: str = "*"
    labels: tuple[tuple[str, str], ...] = ()
    #: Whether its events start a pass. The Ray clusters' do; the port records' and routes'
    #: only keep the cache (their changes are our own writes' echoes, and a pass triggered by
    #: each would be a pass per write).
    pokes: bool = True
    #: When set, an event pokes only if it changed what this function makes of all the kind's
    #: cached objects (Nodes: only what decides the gateway's placement; a node's status is
    #: rewritten by its kubelet for reasons that do not matter here).
    view: Callable[[list[dict[str, Any]]], Any] | None = None

    @property
    def label_selector(self) -> dict[str, str] | None:
        return dict(self.labels) or None


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _rv(obj: Mapping[str, Any] | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


@dataclass
class _Expected:
    """Our write of one object, not yet delivered by the watch: ``obj`` as written (None: we
    deleted it); ``same(o)``: whether ``o`` is that write's object (created) or the one
    deleted."""

    obj: dict[str, Any] | None
    same: Callable[[Mapping[str, Any]], bool]


class WatchCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {}
        self._synced: set[str] = set()
        self._expected: dict[str, dict[Key, _Expected]] = {}

    # ------------------------------------------------------------------ the watch's side

    def replace(self, kind: str, objects: Iterable[dict[str, Any]]) -> None:
        """A fresh LIST of ``kind``: its objects, all of them; the kind is synced."""
        fresh = {key_of(o): o for o in objects}
        with self._lock:
            self._objects[kind] = fresh
            self._synced.add(kind)
            expected = self._expected.get(kind)
            for key, e in list((expected or {}).items()):
                listed = fresh.get(key)
                # Shown by the list: done. Not shown: the list may predate the write (the
                # watch from it brings the write's event), keep it.
                if (e.obj is not None and listed is not None and e.same(listed)) or \
                        (e.obj is None and (listed is None or not e.same(listed))):
                    del expected[key]

    def unsync(self, kind: str) -> None:
        """``kind``'s watch ended or failed, or a write left it in doubt: passes LIST it
        until it is listed again (the watch lists again when its stream ends)."""
        with self._lock:
            self._synced.discard(kind)

    def apply(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED; BOOKMARK and others carry no object)."""
        key = key_of(obj)
        with self._lock:
            store = self._objects.setdefault(kind, {})
            if event in ("ADDED", "MODIFIED"):
                store[key] = obj
            elif event == "DELETED":
                store.pop(key, None)
            else:
                return
            e = (self._expected.get(kind) or {}).get(key)
            if e is not None and e.same(obj) and (event == "DELETED" or e.obj is not None):
                # Our write's result (or the deletion of what we created): the store has it.
                del self._expected[kind][key]

    # ------------------------------------------------------------------ our writes

    def wrote(self, kind: str, before: Any, stored: dict[str, Any]) -> None:
        """The API server's answer to our write of an object read at resourceVersion
        ``before``: cached now, unless the watch already delivered a later version (or the
        object's deletion)."""
        with self._lock:
            store, key = self._objects.get(kind), key_of(stored)
            if store is not None and before is not None and _rv(store.get(key)) == before:
                store[key] = stored

    def expect(self, kind: str, key: Key, obj: dict[str, Any] | None,
               same: Callable[[Mapping[str, Any]], bool]) -> Callable[[], None]:
        """Before our write of ``key``: show ``obj`` (None: no object) until the watch
        delivers the write (see the module's docstring). Returns what to call when the write
        failed: the expectation is withdrawn (the one before it, if any, is back)."""
        mine = _Expected(obj, same)
        with self._lock:
            expected = self._expected.setdefault(kind, {})
            previous = expected.get(key)
            expected[key] = mine

        def withdraw() -> None:
            with self._lock:
                if expected.get(key) is mine:
                    if previous is None:
                        del expected[key]
                    else:
                        expected[key] = previous
        return withdraw

    def settle(self, kind: str, listed: Iterable[Mapping[str, Any]]) -> None:
        """A LIST of ``kind`` made after every write expected so far returned: drop what it
        contradicts (an object we wrote that is gone, one we deleted that is there) and what
        the store already shows."""
        with self._lock:
            expected = self._expected.get(kind)
            if not expected:
                return
            found = {key_of(o): o for o in listed}
            store = self._objects.get(kind) or {}
            for key, e in list(expected.items()):
                truth, cached = found.get(key), store.get(key)
                there = truth is not None and e.same(truth)
                shown = cached is not None and e.same(cached)
                if (e.obj is not None and (not there or shown)) or \
                        (e.obj is None and (there or not shown)):
                    del expected[key]

    # ------------------------------------------------------------------ a pass's side

    def synced(self, kinds: Iterable[str]) -> bool:
        with self._lock:
            return all(k in self._synced for k in kinds)

    def pending(self, kind: str) -> int:
        """How many of our writes of ``kind`` the watch has not delivered yet."""
        with self._lock:
            return len(self._expected.get(kind) or {})

    def objects(self, kinds: Iterable[str]) -> list[dict[str, Any]]:
        """The objects of ``kinds`` as the watches delivered them, with our expected writes."""
        out: list[dict[str, Any]] = []
        with self._lock:
            for kind in kinds:
                store = self._objects.get(kind, {})
                expected = self._expected.get(kind)
                if not expected:
                    out.extend(store.values())
                    continue
                view = dict(store)
                for key, e in expected.items():
                    if e.obj is not None:
                        view[key] = e.obj
                    elif key in view and e.same(view[key]):
                        del view[key]
                out.extend(view.values())
        return out
