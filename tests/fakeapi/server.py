"""A fake Kubernetes API server over real HTTP, for testing raygate against "a cluster".

Why not kmock: it ignores label/field selectors, fills no server metadata, has no PUT,
dry-run, apply semantics or watch resourceVersion/bookmarks (feasibility.md §D). This fake
implements the slice of the API raygate's cluster source, ``doctor`` and ``apply`` use, with
the real server's status codes and message shapes, so the real lightkube client (pointed at it
by a kubeconfig) cannot tell the difference for those calls.

Design:
- aiohttp on 127.0.0.1 in a background thread with its own event loop, so sync clients
  (lightkube.Client, the CLI under test) work from the test thread. Every mutation runs on
  that loop, so handlers never race; helpers called from the test thread hop onto it.
- Objects are stored per (resource, namespace) and each keeps its serialized LIST item,
  so a LIST costs one join over cached bytes: the scale bench holds 65,000+ objects.
- The request log is an append-only list of small records (no per-request cost that grows
  with history, unlike kmock), and the watch history is a bounded deque (older watches get
  410 Gone, as from a real server).
- ``admission`` is a pluggable hook ``callable(obj, operation) -> None | str``; a string is a
  denial returned as HTTP 400 with that message (see ``tests.fakeapi.admission``).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml
from aiohttp import web

from tests.fakeapi import patches
from tests.fakeapi.resources import (AGGREGATED_DISCOVERY, DEFAULT_RESOURCES, VERSION_INFO,
                                     ResourceType, aggregated_discovery, api_group,
                                     api_group_list, api_resource_list)
from tests.fakeapi.selectors import SelectorError, parse_field_selector, parse_label_selector

Admission = Callable[[dict, str], "str | None"]

#: apiserver/pkg/storage/etcd3/store.go, compactedContinue (served from etcd; a list served by
#: the watch cache words it differently, see tests/fakeapi/README.md).
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list.")
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_JSON = "application/json"


@dataclass
class RequestRecord:
    """One request the fake answered (for assertions such as "one LIST per kind")."""

    method: str
    path: str
    query: dict[str, str]
    verb: str | None = None
    kind: str | None = None
    status: int | None = None
    content_type: str | None = None


@dataclass
class _Entry:
    obj: dict[str, Any]
    item_bytes: bytes | None = None
    # (manager, operation, subresource) -> owned field paths ("" = the main resource)
    owners: dict[tuple[str, str, str], set[patches.FieldPath]] = field(default_factory=dict)


@dataclass
class _Watcher:
    key: tuple[str, str]
    namespace: str | None
    labels: Callable[[Mapping[str, Any]], bool] | None
    fields: Callable[[Mapping[str, Any]], bool] | None
    queue: asyncio.Queue


class ApiStatus(Exception):
    """An API error answered as a ``metav1.Status`` document."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None,
                 list_meta: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.list_meta = list_meta or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.list_meta),
                               "status": "Failure", "message": self.message,
                               "reason": self.reason, "code": self.code}
        if self.details:
            out["details"] = self.details
        return out


#: The media types the API server can answer in (any ``;`` parameters aside).
_MEDIA_TYPES = {"*/*", "application/*", "application/json", "application/yaml",
                "application/vnd.kubernetes.protobuf"}


def _acceptable(accept: str | None) -> bool:
    """Whether an Accept header names a media type the API server serves (none: any)."""
    if not accept:
        return True
    return any(part.split(";")[0].strip().lower() in _MEDIA_TYPES for part in accept.split(","))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class FakeApiServer:
    """An in-memory kube-apiserver. ``start()`` it, point a kubeconfig at ``url``."""

    def __init__(self, resources: Iterable[ResourceType] = DEFAULT_RESOURCES, *,
                 token: str | None = "raygate-fake-token", history: int = 10_000,
                 bookmark_interval: float = 1.0, aggregated_discovery: bool = True) -> None:
        self.resources = tuple(resources)
        #: Serve ``GET /apis`` as one aggregated document when the client asks for it
        #: (Kubernetes >= 1.30); False: only the legacy APIGroupList (older servers).
        self.aggregated_discovery = aggregated_discovery
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.admission: Admission | None = None
        self.requests: list[RequestRecord] = []
        self._by_path = {(t.group, t.version, t.plural): t for t in self.resources}
        self._by_kind: dict[str, list[ResourceType]] = {}
        for t in self.resources:
            self._by_kind.setdefault(t.kind, []).append(t)
        self._store: dict[tuple[str, str], dict[str, dict[str, _Entry]]] = {
            t.key: {} for t in self.resources}
        self._rv = 1
        #: Continue tokens of snapshots older than this resourceVersion have expired.
        self._compacted = 0
        self._history: collections.deque = collections.deque(maxlen=history)
        self._watchers: dict[tuple[str, str], list[_Watcher]] = collections.defaultdict(list)
        self._forbidden: dict[str, set[str] | None] = {}
        #: [verb, kind, name, remaining, code, reason, message, after] (see ``inject``).
        self._faults: list[list[Any]] = []
        self._disabled_groups: set[str] = set()
        #: [verb, kind, remaining, seconds] (see ``stall``).
        self._stalls: list[list[Any]] = []
        self._befores: list[list[Any]] = []
        self._logs: dict[tuple[str, str, str | None], str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port = 0
        #: Set by ``write_kubeconfig`` (the ``fake_api`` fixture always writes one).
        self.kubeconfig_path: str | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeApiServer":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as e:  # reported to the starting thread
                errors.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-kube-apiserver", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def shutdown() -> None:
            self._stopping = True
            for ws in self._watchers.values():
                for w in ws:
                    w.queue.put_nowait(None)
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> "FakeApiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: str | Path, *, context: str = "fake",
                         namespace: str = "default") -> Path:
        """A kubeconfig with a bearer token pointing at this server."""
        user: dict[str, Any] = {"token": self.token} if self.token else {}
        doc = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context,
                                                       "user": f"{context}-user",
                                                       "namespace": namespace}}],
            "current-context": context,
        }
        p = Path(path)
        p.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.kubeconfig_path = str(p)
        return p

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the server loop (where all state changes happen) and return its result."""
        if self._loop is None:
            return fn(*args, **kwargs)
        try:
            if asyncio.get_running_loop() is self._loop:
                return fn(*args, **kwargs)
        except RuntimeError:
            pass

        async def wrapper() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(120)

    # ------------------------------------------------------------------ test helpers

    def type_of(self, kind: str, api_version: str | None = None) -> ResourceType:
        for t in self._by_kind.get(kind, ()):
            if api_version is None or t.api_version == api_version:
                return t
        raise KeyError(f"the fake API has no resource for kind {kind!r} {api_version or ''}")

    def add(self, obj: Mapping[str, Any], *, manager: str | None = None) -> dict[str, Any]:
        """Create or replace an object directly (status included), filling server metadata.

        With ``manager`` its fields are recorded as owned by that manager (operation Update),
        as if another tool (Helm, kubectl) had written them.
        """
        return self._call(self._upsert, patches.json_copy(dict(obj)), manager)

    def add_many(self, objs: Iterable[Mapping[str, Any]]) -> int:
        """Bulk ``add`` in one hop onto the server loop (used by the scale bench)."""
        def run() -> int:
            n = 0
            for o in objs:
                self._upsert(patches.json_copy(dict(o)), None, copy_result=False)
                n += 1
            return n
        return self._call(run)

    def get(self, kind: str, namespace: str | None, name: str, *,
            api_version: str | None = None) -> dict[str, Any] | None:
        t = self.type_of(kind, api_version)

        def run() -> dict[str, Any] | None:
            e = self._entry(t, namespace or "", name)
            return patches.json_copy(e.obj) if e else None
        return self._call(run)

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        t = self.type_of(kind)

        def run() -> list[dict[str, Any]]:
            buckets = self._store[t.key]
            spaces = [namespace or ""] if (namespace is not None or not t.namespaced) else sorted(buckets)
            return [patches.json_copy(e.obj) for ns in spaces for _, e in sorted(buckets.get(ns, {}).items())]
        return self._call(run)

    def patch(self, kind: str, namespace: str | None, name: str,
              merge: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch a stored object directly (status included): "the node IP changed".

        Read and write happen in one step on the server loop, as a real server applies a
        patch: a test thread playing a controller (status writes) never overwrites what a
        client wrote in between (a lost update made the CLI apply test fail under load)."""
        t = self.type_of(kind)

        def run() -> dict[str, Any]:
            e = self._entry(t, namespace or "", name)
            if e is None:
                raise KeyError(f"{kind} {namespace}/{name} not found")
            return self._upsert(patches.merge_patch(patches.json_copy(e.obj), patches.json_copy(dict(merge))), None)
        return self._call(run)

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        t = self.type_of(kind)

        def run() -> bool:
            e = self._entry(t, namespace or "", name)
            if e is None:
                return False
            self._commit(t, namespace or "", name, None, "DELETED", old=e)
            return True
        return self._call(run)

    def set_logs(self, namespace: str, pod: str, text: str, container: str | None = None) -> None:
        """Canned text for ``GET .../pods/<pod>/log``."""
        self._logs[(namespace, pod, container)] = text

    def forbid(self, kind: str, verbs: Iterable[str] | None = None) -> None:
        """Answer 403 for ``kind`` (all verbs, or only ``verbs`` such as ``["list"]``)."""
        self._forbidden[kind] = set(verbs) if verbs is not None else None

    def inject(self, code: int, *, verb: str | None = None, kind: str | None = None,
               name: str | None = None, times: int = 1, after: int = 0,
               reason: str | None = None, message: str | None = None) -> None:
        """Answer ``times`` matching requests, after letting ``after`` of them through, with
        ``code`` (a 500 mid-apply, a 409 on one object, a 429...), as a ``Status`` with the
        real server's reason words."""
        reason = reason or {409: "Conflict", 429: "TooManyRequests", 500: "InternalError",
                            503: "ServiceUnavailable", 504: "Timeout"}.get(code, "Unknown")
        message = message or {
            500: "Internal error occurred: etcdserver: request timed out",
            409: f'Operation cannot be fulfilled on {kind or "object"} "{name or "x"}": the object '
                 "has been modified; please apply your changes to the latest version and try again",
        }.get(code, f"injected {code}")
        self._faults.append([verb, kind, name, times, code, reason, message, after])

    def before(self, action: Callable[["FakeApiServer"], Any], *, verb: str | None = None,
               kind: str | None = None, name: str | None = None, after: int = 0,
               times: int = 1) -> None:
        """Run ``action(server)`` on the server loop just before ``times`` matching requests
        are handled, after letting ``after`` of them through: another writer (a Helm upgrade,
        a controller) changes the object between a client's read and its write."""
        self._befores.append([verb, kind, name, times, after, action])

    def stall(self, seconds: float, *, verb: str | None = None, kind: str | None = None,
              times: int = 1) -> None:
        """Hold ``times`` matching requests for ``seconds`` before answering: an API server
        that is slow (etcd latency, a busy apiserver) so the client's timeout fires first."""
        self._stalls.append([verb, kind, times, seconds])

    def allow(self, kind: str) -> None:
        self._forbidden.pop(kind, None)

    def disable_group(self, group: str) -> None:
        """Pretend a CRD group (``ray.io``, ``gateway.networking.k8s.io``) is not installed."""
        self._disabled_groups.add(group)

    def enable_group(self, group: str) -> None:
        self._disabled_groups.discard(group)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def count(self, verb: str | None = None, kind: str | None = None) -> int:
        return sum(1 for r in self.requests
                   if (verb is None or r.verb == verb) and (kind is None or r.kind == kind))

    def compact(self) -> None:
        """Compact the store at the current resourceVersion, as etcd does every 5 minutes:
        ``continue`` tokens handed out before now expire (410 Gone, reason Expired)."""
        def run() -> None:
            # A real cluster writes all the time (leases, events), so the current revision
            # has moved on by the time etcd compacts; a new LIST reads at the new one.
            self._rv += 1
            self._compacted = self._rv
        self._call(run)

    def reset_requests(self) -> None:
        self.requests.clear()

    @property
    def resource_version(self) -> int:
        return self._rv

    # ------------------------------------------------------------------ store internals

    def _entry(self, t: ResourceType, ns: str, name: str) -> _Entry | None:
        return self._store[t.key].get(ns if t.namespaced else "", {}).get(name)

    def _upsert(self, obj: dict[str, Any], manager: str | None, copy_result: bool = True) -> Any:
        t = self.type_of(str(obj.get("kind")), obj.get("apiVersion"))
        obj.setdefault("apiVersion", t.api_version)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise ValueError(f"object without metadata.name: {obj!r}"[:200])
        ns = (meta.get("namespace") or "default") if t.namespaced else ""
        if t.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        old = self._entry(t, ns, name)
        _apply_defaults(t, obj)
        owners: dict[tuple[str, str, str], set] = {k: set(v) for k, v in old.owners.items()} if old else {}
        if manager:
            # Like an Update by that manager: it owns what it set or changed, nothing else
            # (fieldmanager's updater attributes only the changed fields).
            owners = _take_changed(owners, old.obj if old else {}, obj, (manager, "Update", ""))
        obj = self._finish(t, obj, old.obj if old else None, owners)
        self._commit(t, ns, name, obj, "MODIFIED" if old else "ADDED", owners=owners)
        return patches.json_copy(obj) if copy_result else None

    def _finish(self, t: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                owners: dict[tuple[str, str, str], set]) -> dict[str, Any]:
        """Fill server-owned metadata on a new version of an object."""
        meta = obj.setdefault("metadata", {})
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            meta["generation"] = 1
        else:
            om = old["metadata"]
            meta["uid"] = om.get("uid")
            meta["creationTimestamp"] = om.get("creationTimestamp")
            meta["generation"] = om.get("generation", 1) + (1 if _spec_of(obj) != _spec_of(old) else 0)
        meta.pop("resourceVersion", None)
        if owners:
            present = patches.leaf_paths(obj) | patches.status_paths(obj)
            for key in list(owners):
                owners[key] &= present.keys()
                if not owners[key]:
                    del owners[key]
            meta["managedFields"] = [
                {"manager": m, "operation": op, "apiVersion": t.api_version, "time": _now(),
                 "fieldsType": "FieldsV1", "fieldsV1": patches.fields_v1(paths),
                 **({"subresource": sub} if sub else {})}
                for (m, op, sub), paths in owners.items()]
        else:
            meta.pop("managedFields", None)
        return obj

    def _commit(self, t: ResourceType, ns: str, name: str, obj: dict[str, Any] | None,
                event: str, *, owners: dict | None = None, old: _Entry | None = None) -> None:
        self._rv += 1
        bucket = self._store[t.key].setdefault(ns if t.namespaced else "", {})
        before = bucket.get(name)
        prev = None if event == "ADDED" or before is None else before.obj
        if obj is None:
            gone = bucket.pop(name, None) or old
            if gone is None:
                return
            obj = patches.json_copy(gone.obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            prev = None
        else:
            obj["metadata"]["resourceVersion"] = str(self._rv)
            bucket[name] = _Entry(obj, None, owners or {})
        self._history.append((self._rv, t.key, ns, event, obj, prev))
        for w in self._watchers.get(t.key, ()):
            seen = self._as_seen_by(w, ns, event, obj, prev)
            if seen is not None:
                w.queue.put_nowait(seen)

    def _as_seen_by(self, w: _Watcher, ns: str, event: str, obj: dict[str, Any],
                    prev: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
        """The event a watcher with a label or field selector gets, if any: an object that
        starts matching is ADDED, one that stops matching is DELETED (its previous content at
        the event's resourceVersion), as the watch cache sends them
        (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go @ v1.31.0, convertToWatchEvent)."""
        passes = event != "DELETED" and self._watch_matches(w, ns, obj)
        passed = prev is not None and self._watch_matches(w, ns, prev)
        if event == "DELETED":
            return (event, obj) if self._watch_matches(w, ns, obj) else None
        if passes:
            return ("MODIFIED" if passed else "ADDED", obj)
        if passed:
            gone = patches.json_copy(prev)
            gone["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
            return ("DELETED", gone)
        return None

    @staticmethod
    def _watch_matches(w: _Watcher, ns: str, obj: Mapping[str, Any]) -> bool:
        if w.namespace is not None and ns != w.namespace:
            return False
        if w.labels is not None and not w.labels(obj.get("metadata", {}).get("labels") or {}):
            return False
        return w.fields is None or w.fields(obj)

    def _item_bytes(self, t: ResourceType, e: _Entry) -> bytes:
        if t.crd and e.obj.get("apiVersion") != t.api_version:
            # A CRD served at several versions with conversion strategy None (Gateway API's):
            # the same object, read through another version, differs only in apiVersion
            # (apiextensions-apiserver/pkg/apiserver/conversion/nop_converter.go).
            return _dumps({**e.obj, "apiVersion": t.api_version})
        if e.item_bytes is None:
            obj = e.obj if t.crd else {k: v for k, v in e.obj.items() if k not in ("kind", "apiVersion")}
            e.item_bytes = _dumps(obj)
        return e.item_bytes

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = RequestRecord(request.method, request.path, dict(request.query),
                            content_type=request.headers.get("Content-Type"))
        self.requests.append(rec)
        try:
            resp = await self._dispatch(request, rec)
        except ApiStatus as e:
            resp = web.Response(status=e.code, body=_dumps(e.body()), content_type=_JSON)
        rec.status = resp.status
        return resp

    def _authorized(self, request: web.Request) -> bool:
        return self.token is None or request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _dispatch(self, request: web.Request, rec: RequestRecord) -> web.StreamResponse:
        segs = [s for s in request.path.split("/") if s]
        if segs in (["version"], ["healthz"], ["readyz"], ["livez"]):
            if segs[0] == "version":
                return web.Response(body=_dumps(VERSION_INFO), content_type=_JSON)
            return web.Response(text="ok")
        if not self._authorized(request):
            raise ApiStatus(401, "Unauthorized", "Unauthorized")
        if not _acceptable(request.headers.get("Accept")):
            # k8s.io/apiserver/pkg/endpoints/handlers/negotiation/negotiate.go @ v1.31.0,
            # NegotiateOutputMediaType -> NewNotAcceptableError.
            raise ApiStatus(406, "NotAcceptable", "only the following media types are "
                            "accepted: application/json, application/yaml, "
                            "application/vnd.kubernetes.protobuf")
        if not segs:
            return web.Response(body=_dumps({"paths": ["/api", "/api/v1", "/apis", "/version"]}),
                                content_type=_JSON)
        groups = self._groups()
        if segs == ["api"]:
            return self._json({"kind": "APIVersions", "versions": ["v1"],
                               "serverAddressByClientCIDRs": [
                                   {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]})
        if segs == ["apis"]:
            if self.aggregated_discovery and _wants_aggregated(request.headers.get("Accept")):
                # apiserver/pkg/endpoints/discovery/aggregated/handler.go: the aggregated
                # document when the Accept header asks for it, the legacy list otherwise.
                by_group: dict[str, list[ResourceType]] = {}
                for t in self.resources:
                    if t.group and t.group not in self._disabled_groups:
                        by_group.setdefault(t.group, []).append(t)
                return web.Response(body=_dumps(aggregated_discovery(by_group)),
                                    headers={"Content-Type": AGGREGATED_DISCOVERY})
            return self._json(api_group_list({g: v for g, v in groups.items() if g}))
        if segs[0] == "apis" and len(segs) == 2:
            if segs[1] not in groups or not segs[1]:
                return self._not_found_page()
            return self._json(api_group(segs[1], groups[segs[1]]))
        if segs[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segs[2:]
        elif segs[0] == "apis" and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return self._not_found_page()
        if group in self._disabled_groups or version not in groups.get(group, []):
            return self._not_found_page()
        if not rest:
            return self._json(api_resource_list(
                f"{group}/{version}" if group else version,
                [t for t in self.resources if t.group == group and t.version == version]))
        return await self._resource(request, rec, group, version, rest)

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for t in self.resources:
            if t.group in self._disabled_groups:
                continue
            versions = groups.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        return groups

    @staticmethod
    def _json(doc: Any, status: int = 200) -> web.Response:
        return web.Response(status=status, body=_dumps(doc), content_type=_JSON)

    @staticmethod
    def _not_found_page() -> web.Response:
        return web.Response(status=404, text="404 page not found\n")

    async def _resource(self, request: web.Request, rec: RequestRecord, group: str, version: str,
                        rest: list[str]) -> web.StreamResponse:
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return self._not_found_page()
        t = self._by_path.get((group, version, rest[0]))
        if t is None:
            return self._not_found_page()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if (ns is not None and not t.namespaced) or (t.namespaced and ns is None and name is not None):
            return self._not_found_page()
        if sub not in (None, "status", "log") or (sub == "log" and t.key != ("", "pods")) \
                or (sub == "status" and not t.has_status):
            return self._not_found_page()
        q = request.query
        method = request.method
        watch = q.get("watch") in ("true", "1")
        verb = {"GET": "get" if name else ("watch" if watch else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method)
        if verb is None or (verb == "create" and name is not None):
            raise ApiStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        rec.verb, rec.kind = verb, t.kind
        self._check_rbac(t, verb, ns)
        self._run_befores(t, verb, name)
        self._check_faults(t, verb, name)
        await self._check_stalls(t, verb)
        if sub == "log":
            return self._pod_log(t, ns or "", name or "", q)
        if verb == "list":
            return self._list(t, ns, q)
        if verb == "watch":
            return await self._watch(request, t, ns, q)
        if verb == "get":
            e = self._entry(t, ns or "", name or "")
            if e is None:
                raise self._not_found(t, name or "")
            return web.Response(body=_dumps(e.obj), content_type=_JSON)
        ctype = (request.headers.get("Content-Type") or _JSON).split(";")[0].strip()
        _validate_options(verb, request.query, ctype)
        if verb == "deletecollection":
            return self._delete_collection(t, ns, q)
        body = await request.read() if verb != "delete" else b""
        dry_run = "All" in request.query.getall("dryRun", [])
        if verb == "delete":
            return self._delete(t, ns or "", name or "", dry_run)
        manager = q.get("fieldManager") or _manager_from_agent(request.headers.get("User-Agent"))
        if verb == "create":
            return self._create(t, ns or "", self._decode(body, ctype), dry_run, manager)
        if verb == "update":
            return self._update(t, ns or "", name or "", self._decode(body, ctype), dry_run,
                                manager, sub)
        if ctype == "application/apply-patch+yaml":
            return self._apply(t, ns or "", name or "", self._decode(body, ctype), dry_run,
                               q["fieldManager"], q.get("force") == "true", sub)
        return self._patch(t, ns or "", name or "", self._decode(body, ctype), ctype, dry_run,
                           manager, sub)

    def _check_rbac(self, t: ResourceType, verb: str, ns: str | None) -> None:
        if t.kind not in self._forbidden:
            return
        verbs = self._forbidden[t.kind]
        if verbs is not None and verb not in verbs:
            return
        where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        resource = t.plural
        raise ApiStatus(403, "Forbidden",
                        f'{_qualified(t)} is forbidden: User "system:serviceaccount:raygate:raygate" '
                        f'cannot {verb} resource "{resource}" in API group "{t.group}" {where}',
                        {"kind": t.plural, **({"group": t.group} if t.group else {})})

    def _check_faults(self, t: ResourceType, verb: str, name: str | None) -> None:
        for fault in self._faults:
            f_verb, f_kind, f_name, remaining, code, reason, message, after = fault
            if remaining > 0 and f_verb in (None, verb) and f_kind in (None, t.kind) \
                    and f_name in (None, name):
                if after > 0:
                    fault[7] -= 1
                    continue
                fault[3] -= 1
                raise ApiStatus(code, reason, message, {"name": name or "", "kind": t.plural})

    def _run_befores(self, t: ResourceType, verb: str, name: str | None) -> None:
        for hook in self._befores:
            h_verb, h_kind, h_name, remaining, after, action = hook
            if remaining > 0 and h_verb in (None, verb) and h_kind in (None, t.kind) \
                    and h_name in (None, name):
                if after > 0:
                    hook[4] -= 1
                    continue
                hook[3] -= 1
                action(self)

    async def _check_stalls(self, t: ResourceType, verb: str) -> None:
        for stall in self._stalls:
            f_verb, f_kind, remaining, seconds = stall
            if remaining > 0 and f_verb in (None, verb) and f_kind in (None, t.kind):
                stall[2] -= 1
                await asyncio.sleep(seconds)
                return

    @staticmethod
    def _decode(body: bytes, ctype: str) -> Any:
        try:
            if ctype.endswith("yaml"):
                try:
                    return json.loads(body)
                except ValueError:
                    return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            return json.loads(body)
        except (ValueError, yaml.YAMLError) as e:
            raise ApiStatus(400, "BadRequest", f"the body of the request was in an unknown format: {e}") from None

    @staticmethod
    def _not_found(t: ResourceType, name: str) -> ApiStatus:
        return ApiStatus(404, "NotFound", f'{_qualified(t)} "{name}" not found',
                         {"name": name, "kind": t.plural, **({"group": t.group} if t.group else {})})

    # ------------------------------------------------------------------ reads

    def _matching(self, t: ResourceType, ns: str | None, q: Mapping[str, str]) -> list[_Entry]:
        try:
            labels = parse_label_selector(q.get("labelSelector"))
            fields = parse_field_selector(q.get("fieldSelector"), t.kind)
        except SelectorError as e:
            raise ApiStatus(400, "BadRequest", str(e)) from None
        buckets = self._store[t.key]
        spaces = [ns if t.namespaced else ""] if ns is not None or not t.namespaced else list(buckets)
        out: list[_Entry] = []
        for space in spaces:
            for e in buckets.get(space, {}).values():
                if labels is not None and not labels(e.obj["metadata"].get("labels") or {}):
                    continue
                if fields is not None and not fields(e.obj):
                    continue
                out.append(e)
        out.sort(key=lambda e: (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]))
        return out

    def _list(self, t: ResourceType, ns: str | None, q: Mapping[str, str]) -> web.Response:
        items = self._matching(t, ns, q)
        meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
        token = q.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                after = tuple(state["after"])
                meta["resourceVersion"] = state["rv"]
            except (ValueError, KeyError, TypeError):
                raise ApiStatus(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion") from None
            if int(state["rv"]) < self._compacted:
                # apiserver/pkg/storage/etcd3/store.go (compactedContinue):
                # the snapshot the token reads from was compacted away. The Status carries a
                # token for an inconsistent continuation; clients that want a consistent list
                # start over without one.
                raise ApiStatus(410, "Expired", CONTINUE_EXPIRED, list_meta={
                    "continue": base64.urlsafe_b64encode(_dumps(
                        {"rv": str(self._rv), "after": state["after"]})).decode()})
            keys = [(e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]) for e in items]
            import bisect
            items = items[bisect.bisect_right(keys, after):]
        limit = q.get("limit")
        if limit:
            try:
                n = int(limit)
            except ValueError:
                raise ApiStatus(400, "BadRequest", f"invalid limit {limit!r}") from None
            if 0 < n < len(items):
                last = items[n - 1].obj["metadata"]
                state = {"rv": meta["resourceVersion"], "after": [last.get("namespace", ""), last["name"]]}
                meta["continue"] = base64.urlsafe_b64encode(_dumps(state)).decode()
                meta["remainingItemCount"] = len(items) - n
                items = items[:n]
        head = _dumps({"kind": f"{t.kind}List", "apiVersion": t.api_version, "metadata": meta})
        body = b"".join([head[:-1], b',"items":[', b",".join(self._item_bytes(t, e) for e in items), b"]}"])
        return web.Response(body=body, content_type=_JSON)

    def _pod_log(self, t: ResourceType, ns: str, name: str, q: Mapping[str, str]) -> web.Response:
        if self._entry(t, ns, name) is None:
            raise self._not_found(t, name)
        container = q.get("container")
        text = self._logs.get((ns, name, container), self._logs.get((ns, name, None), ""))
        tail = q.get("tailLines")
        if tail:
            try:
                n = int(tail)
            except ValueError:
                raise ApiStatus(400, "BadRequest", f"invalid tailLines {tail!r}") from None
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-n:]) if n > 0 else ""
        return web.Response(text=text, content_type="text/plain")

    async def _watch(self, request: web.Request, t: ResourceType, ns: str | None,
                     q: Mapping[str, str]) -> web.StreamResponse:
        try:
            labels = parse_label_selector(q.get("labelSelector"))
            fields = parse_field_selector(q.get("fieldSelector"), t.kind)
        except SelectorError as e:
            raise ApiStatus(400, "BadRequest", str(e)) from None
        rv_param = q.get("resourceVersion") or ""
        try:
            since = int(rv_param) if rv_param not in ("", "0") else None
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        except ValueError:
            raise ApiStatus(400, "BadRequest", "invalid resourceVersion or timeoutSeconds") from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        resp = web.StreamResponse(headers={"Content-Type": _JSON})
        await resp.prepare(request)
        watcher = _Watcher(t.key, ns if t.namespaced else None, labels, fields, asyncio.Queue())
        # Registration and the initial events happen without an await in between, so no
        # event is lost or sent twice.
        initial: list[tuple[str, Any]] = []
        if since is None:
            initial = [("ADDED", e.obj) for e in self._matching(t, ns, q)]
        else:
            oldest = self._history[0][0] if self._history else self._rv + 1
            full = len(self._history) == self._history.maxlen
            if full and since < oldest - 1:
                initial = [("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                      "status": "Failure", "reason": "Expired", "code": 410,
                                      "message": f"too old resource version: {since} ({oldest - 1})"})]
            else:
                initial = [seen for rv, key, ens, ev, obj, prev in self._history
                           if rv > since and key == t.key
                           for seen in [self._as_seen_by(watcher, ens, ev, obj, prev)]
                           if seen is not None]
        if not (initial and initial[0][0] == "ERROR"):
            self._watchers[t.key].append(watcher)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for ev, obj in initial:
                await resp.write(_dumps({"type": ev, "object": obj}) + b"\n")
            if initial and initial[0][0] == "ERROR":
                return resp
            while not self._stopping:
                wait = None if deadline is None else deadline - time.monotonic()
                if bookmarks:
                    wait = self.bookmark_interval if wait is None else min(wait, self.bookmark_interval)
                if wait is not None and wait <= 0:
                    if bookmarks:
                        await resp.write(self._bookmark(t))
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), wait)
                except asyncio.TimeoutError:
                    if bookmarks:
                        await resp.write(self._bookmark(t))
                    continue
                if item is None:
                    break
                ev, obj = item
                await resp.write(_dumps({"type": ev, "object": obj}) + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if watcher in self._watchers[t.key]:
                self._watchers[t.key].remove(watcher)
        return resp

    def _bookmark(self, t: ResourceType) -> bytes:
        return _dumps({"type": "BOOKMARK", "object": {
            "kind": t.kind, "apiVersion": t.api_version,
            "metadata": {"resourceVersion": str(self._rv),
                         "annotations": {"k8s.io/initial-events-end": "true"}}}}) + b"\n"

    # ------------------------------------------------------------------ writes

    def _check_identity(self, t: ResourceType, body: Any, ns: str, name: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiStatus(400, "BadRequest", "the body of the request must be a JSON/YAML object")
        if body.get("kind") and body["kind"] != t.kind:
            raise ApiStatus(400, "BadRequest", f"the kind in the data ({body['kind']}) does not "
                            f"match the expected kind ({t.kind})")
        if body.get("apiVersion") and body["apiVersion"] != t.api_version:
            raise ApiStatus(400, "BadRequest", f"the API version in the data ({body['apiVersion']}) "
                            f"does not match the expected API version ({t.api_version})")
        if not body.get("kind"):
            raise ApiStatus(400, "BadRequest", "Object 'Kind' is missing in the request body")
        # The body is the handler's own (decoded from this request, or made by a patch
        # function, which copies its target): copy only what is changed here, not the whole
        # object (a deep copy was the fake's largest cost per write).
        obj = dict(body)
        obj["apiVersion"] = t.api_version
        meta = obj.get("metadata")
        meta = obj["metadata"] = dict(meta) if isinstance(meta, dict) else {}
        if t.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise ApiStatus(400, "BadRequest", "the namespace of the provided object does not "
                                "match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise ApiStatus(400, "BadRequest", f"the name of the object ({meta['name']}) does not "
                            f"match the name on the URL ({name})")
        if name is not None:
            meta["name"] = name
        return obj

    def _validate(self, t: ResourceType, obj: dict[str, Any]) -> None:
        name = obj["metadata"].get("name", "")
        causes: list[tuple[str, str]] = []
        if not name:
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        elif len(name) > 253 or not _NAME_RE.match(name):
            causes.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 '
                           "subdomain must consist of lower case alphanumeric characters, '-' or "
                           "'.', and must start and end with an alphanumeric character"))
        if t.kind == "Ingress":
            for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
                for j, p in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
                    where = f"spec.rules[{i}].http.paths[{j}]"
                    ptype = p.get("pathType")
                    if not ptype:
                        causes.append((f"{where}.pathType", "Required value: pathType must be specified"))
                    elif ptype not in ("Exact", "Prefix", "ImplementationSpecific"):
                        causes.append((f"{where}.pathType", f'Unsupported value: "{ptype}"'))
                    elif ptype in ("Exact", "Prefix") and not str(p.get("path", "")).startswith("/"):
                        causes.append((f"{where}.path", f'Invalid value: "{p.get("path")}": must be an absolute path'))
        if t.kind in ("Deployment", "DaemonSet", "StatefulSet", "Pod"):
            pod = obj.get("spec") if t.kind == "Pod" else \
                ((obj.get("spec") or {}).get("template") or {}).get("spec")
            where = "spec" if t.kind == "Pod" else "spec.template.spec"
            containers = (pod or {}).get("containers") if isinstance(pod, dict) else None
            if t.kind != "Pod" or pod:
                if not containers:
                    causes.append((f"{where}.containers", "Required value"))
                for i, c in enumerate(containers or []):
                    if not (c or {}).get("image"):
                        causes.append((f"{where}.containers[{i}].image", "Required value"))
        if t.group == "gateway.networking.k8s.io" and t.kind in ("Gateway", "ListenerSet"):
            causes += _listener_causes(t.kind, obj.get("spec") or {})
        if t.kind == "ConfigMap":
            for k, v in ((obj.get("data") or {}).items() if isinstance(obj.get("data"), dict) else ()):
                if not isinstance(v, str):
                    raise ApiStatus(400, "BadRequest", f"json: cannot unmarshal {type(v).__name__} "
                                    f"into Go struct field ConfigMap.data of type string")
        if causes:
            # A custom resource is named by kind and group (k8s.io/apiextensions-apiserver
            # pkg/registry/customresource/validator.go via errors.NewInvalid).
            kind = f"{t.kind}.{t.group}" if t.crd else t.kind
            msg = f'{kind} "{name}" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in causes)
            raise ApiStatus(422, "Invalid", msg, {"name": name, "kind": t.kind, "causes": [
                {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]})

    def _admit(self, obj: dict[str, Any], operation: str) -> None:
        if self.admission is None:
            return
        denial = self.admission(patches.json_copy(obj), operation)
        if denial:
            raise ApiStatus(400, "BadRequest", denial)

    def _create(self, t: ResourceType, ns: str, body: Any, dry_run: bool, manager: str,
                owners: dict | None = None, operation: str = "Update") -> web.Response:
        obj = self._check_identity(t, body, ns, None)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        self._validate(t, obj)
        name = meta["name"]
        if self._entry(t, ns, name) is not None:
            raise ApiStatus(409, "AlreadyExists", f'{_qualified(t)} "{name}" already exists',
                            {"name": name, "kind": t.plural})
        if t.has_status:
            obj.pop("status", None)
        # A create never carries deletion state; managedFields in the body are the creator's
        # to set (fieldmanager decodes them) but raygate never sends any, so they are ignored.
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            meta.pop(k, None)
        if owners is None:
            # An Update-style create: the creator owns every field, defaulted ones included.
            _apply_defaults(t, obj)
            owners = {(manager, operation, ""): set(patches.leaf_paths(obj))}
        else:
            # An apply that creates: the applier owns what it sent; defaults are nobody's.
            _apply_defaults(t, obj)
        obj = self._finish(t, obj, None, owners)
        self._admit(obj, "CREATE")
        if not dry_run:
            self._commit(t, ns, name, obj, "ADDED", owners=owners)
        return self._json(obj, 201)

    def _replace(self, t: ResourceType, ns: str, name: str, old: _Entry, new: dict[str, Any],
                 dry_run: bool, owners: dict[tuple[str, str, str], set]) -> web.Response:
        """Store a new version of an existing object, unless nothing changed (a no-op)."""
        self._validate(t, new)
        self._validate_update(t, old.obj, new)
        new = self._finish(t, new, old.obj, owners)
        # Admission runs before storage decides the write is a no-op: a real API server calls
        # validating webhooks on an unchanged UPDATE too, so re-applying an Ingress that a
        # tightened webhook now refuses is denied, not silently accepted.
        self._admit(new, "UPDATE")
        if _same(new, old.obj):
            return self._json(old.obj)
        if not dry_run:
            # The last finalizer removed from an object being deleted: it goes now
            # (registry/generic/registry/store.go, Update -> ShouldDeleteDuringUpdate).
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                self._commit(t, ns, name, None, "DELETED", old=old)
                return self._json(new)
            self._commit(t, ns, name, new, "MODIFIED", owners=owners)
        else:
            new["metadata"]["resourceVersion"] = old.obj["metadata"].get("resourceVersion")
        return self._json(new)

    def _validate_update(self, t: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Update-only validation the real server does for the kinds raygate writes."""
        name = old["metadata"]["name"]
        causes: list[tuple[str, str]] = []
        if t.kind in ("ConfigMap", "Secret") and old.get("immutable") is True:
            # pkg/apis/core/validation/validation.go, ValidateConfigMapUpdate/ValidateSecretUpdate.
            msg = "Forbidden: field is immutable when `immutable` is set"
            if new.get("immutable") is not True:
                causes.append(("immutable", msg))
            if new.get("data") != old.get("data"):
                causes.append(("data", msg))
            if new.get("binaryData") != old.get("binaryData"):
                causes.append(("binaryData", msg))
        if t.group == "apps" and t.kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"):
            # pkg/registry/apps/{deployment,daemonset,statefulset,replicaset}/strategy.go,
            # ValidateUpdate: "disallow mutation of selector" (ValidateImmutableField) for every
            # apps group version but the removed beta ones. The real message prints the new
            # value as a Go struct; the fake prints it as JSON.
            old_sel = (old.get("spec") or {}).get("selector")
            new_sel = (new.get("spec") or {}).get("selector")
            if new_sel != old_sel:
                causes.append(("spec.selector", f"Invalid value: {json.dumps(new_sel, sort_keys=True)}: "
                               "field is immutable"))
        old_meta, new_meta = old["metadata"], new["metadata"]
        if old_meta.get("deletionTimestamp"):
            # ValidateObjectMetaUpdate: no new finalizers once deletion started.
            added = set(new_meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                causes.append(("metadata.finalizers", "Forbidden: no new finalizers can be added "
                               "if the object is being deleted, found new finalizers "
                               f"[]string{{{', '.join(json.dumps(f) for f in sorted(added))}}}"))
            new_meta["deletionTimestamp"] = old_meta["deletionTimestamp"]
            new_meta["deletionGracePeriodSeconds"] = old_meta.get("deletionGracePeriodSeconds", 0)
        else:
            new_meta.pop("deletionTimestamp", None)
            new_meta.pop("deletionGracePeriodSeconds", None)
        if causes:
            # A custom resource is named by kind and group (k8s.io/apiextensions-apiserver
            # pkg/registry/customresource/validator.go via errors.NewInvalid).
            kind = f"{t.kind}.{t.group}" if t.crd else t.kind
            msg = f'{kind} "{name}" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in causes)
            raise ApiStatus(422, "Invalid", msg, {"name": name, "kind": t.kind, "causes": [
                {"reason": "FieldValueInvalid" if m.startswith("Invalid value")
                 else "FieldValueForbidden", "message": m, "field": f} for f, m in causes]})

    def _update_owners(self, old: _Entry, new: dict[str, Any], manager: str,
                       sub: str | None) -> dict:
        """A non-apply write: the writer takes ownership of every field it changed.

        managedFields sent in the body replace the stored ones (that is how a client moves
        ownership between managers, e.g. client-go's csaupgrade); on a subresource they are
        ignored (managedfields/internal/fieldmanager.go, FieldManager.Update)."""
        base = old.owners
        sent = (new.get("metadata") or {}).get("managedFields")
        if sent and not sub and sent != old.obj["metadata"].get("managedFields"):
            decoded = _owners_from_managed_fields(sent)
            # Entries that do not decode are dropped as a whole, silently: the live ones
            # stay (fieldmanager.go decodeManagedFields: "If the managed field is empty or we
            # failed to decode it, let's try the live object").
            if decoded is not None:
                base = decoded
        return _take_changed(base, old.obj, new, (manager, "Update", sub or ""))

    def _precondition(self, t: ResourceType, name: str, old: _Entry, new: dict[str, Any]) -> None:
        rv = new.get("metadata", {}).get("resourceVersion")
        if rv and rv != old.obj["metadata"].get("resourceVersion"):
            raise ApiStatus(409, "Conflict", f'Operation cannot be fulfilled on {_qualified(t)} '
                            f'"{name}": the object has been modified; please apply your changes '
                            "to the latest version and try again", {"name": name, "kind": t.plural})

    def _with_subresource(self, t: ResourceType, old: dict[str, Any], new: dict[str, Any],
                          sub: str | None) -> dict[str, Any]:
        if sub == "status":
            out = patches.json_copy(old)
            if "status" in new:
                out["status"] = new["status"]
            return out
        if t.has_status:
            new = dict(new)
            if "status" in old:
                new["status"] = patches.json_copy(old["status"])
            else:
                new.pop("status", None)
        return new

    def _update(self, t: ResourceType, ns: str, name: str, body: Any, dry_run: bool,
                manager: str, sub: str | None) -> web.Response:
        obj = self._check_identity(t, body, ns, name)
        old = self._entry(t, ns, name)
        if old is None:
            raise self._not_found(t, name)
        self._precondition(t, name, old, obj)
        new = self._with_subresource(t, old.obj, obj, sub)
        _apply_defaults(t, new)
        return self._replace(t, ns, name, old, new, dry_run,
                             self._update_owners(old, new, manager, sub))

    def _patch(self, t: ResourceType, ns: str, name: str, body: Any, ctype: str, dry_run: bool,
               manager: str, sub: str | None) -> web.Response:
        old = self._entry(t, ns, name)
        if old is None:
            raise self._not_found(t, name)
        try:
            if ctype == "application/json-patch+json":
                patched = patches.json_patch(old.obj, body)
            elif ctype == "application/merge-patch+json":
                patched = patches.merge_patch(old.obj, body)
            elif ctype == "application/strategic-merge-patch+json":
                if t.crd:
                    raise ApiStatus(415, "UnsupportedMediaType", "strategic merge patch is not "
                                    f"supported for custom resources ({_qualified(t)})")
                patched = patches.strategic_merge(old.obj, body)
            else:
                raise ApiStatus(415, "UnsupportedMediaType", "the body of the request was in an "
                                "unknown format - accepted media types include: "
                                "application/json-patch+json, application/merge-patch+json, "
                                "application/apply-patch+yaml, application/strategic-merge-patch+json")
        except patches.PatchError as e:
            raise ApiStatus(422, "Invalid", str(e)) from None
        if not isinstance(patched, dict):
            raise ApiStatus(422, "Invalid", "the patch produced something that is not an object")
        patched = self._check_identity(t, patched, ns, name)
        self._precondition(t, name, old, patched)
        new = self._with_subresource(t, old.obj, patched, sub)
        _apply_defaults(t, new)
        return self._replace(t, ns, name, old, new, dry_run,
                             self._update_owners(old, new, manager, sub))

    def _apply(self, t: ResourceType, ns: str, name: str, body: Any, dry_run: bool,
               manager: str, force: bool, sub: str | None = None) -> web.Response:
        if isinstance(body, dict) and (body.get("metadata") or {}).get("managedFields") is not None:
            # managedfields/internal/structuredmerge.go (structuredMergeManager.Apply): an apply
            # configuration must not carry managedFields (typically: a GET result re-applied).
            raise ApiStatus(400, "BadRequest", "metadata.managedFields must be nil")
        applied = self._check_identity(t, body, ns, name)
        if sub == "status":
            return self._apply_status(t, ns, name, applied, dry_run, manager)
        if t.has_status:
            applied.pop("status", None)
        old = self._entry(t, ns, name)
        leaves = patches.leaf_paths(applied)
        if old is None:
            return self._create(t, ns, applied, dry_run, manager,
                                owners={(manager, "Apply", ""): set(leaves)})
        self._precondition(t, name, old, applied)
        owners = {k: set(v) for k, v in old.owners.items()}
        me = (manager, "Apply", "")
        conflicts: list[tuple[str, str, str]] = []
        conflicting: dict[tuple[str, str, str], set] = collections.defaultdict(set)
        for path, value in leaves.items():
            if path[-1] == ".":
                continue
            found, current = patches.get_path(old.obj, path)
            if not found or current == value:
                continue
            for key, paths in owners.items():
                if key != me and key[2] == "" and path in paths:
                    conflicts.append((key[0], t.api_version, patches.display_path(path)))
                    conflicting[key].add(path)
        if conflicts and not force:
            raise ApiStatus(409, "Conflict", str(patches.ConflictError(conflicts)), {
                "name": name, "kind": t.plural, "causes": [
                    {"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {av}',
                     "field": p} for m, av, p in conflicts]})
        for key, paths in conflicting.items():
            owners[key] -= paths
        merged = patches.ssa_merge({k: v for k, v in old.obj.items()}, applied)
        # Fields this manager applied before and no longer applies go away, unless someone
        # else also owns them (that is how other managers' tcp-services entries survive).
        previous = owners.get(me, set())
        others = [paths for key, paths in owners.items() if key != me]
        # Whole keyed-list items first: an item's key fields are part of it, and removing them
        # on their own would leave a keyless item behind.
        for path in sorted(previous - leaves.keys(), key=lambda p: (p[-1] != ".", -len(p))):
            base = path[:-1] if path[-1] == "." else path
            if any(q[:len(base)] == base for paths in others for q in paths):
                continue
            patches.delete_path(merged, path)
        owners[me] = set(leaves)
        meta = merged["metadata"]
        for k in ("uid", "creationTimestamp", "generation", "resourceVersion",
                  "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in old.obj["metadata"]:
                meta[k] = old.obj["metadata"][k]
        new = self._with_subresource(t, old.obj, merged, None)
        _apply_defaults(t, new)
        return self._replace(t, ns, name, old, new, dry_run, owners)

    def _apply_status(self, t: ResourceType, ns: str, name: str, applied: dict[str, Any],
                      dry_run: bool, manager: str) -> web.Response:
        """An apply on ``/status``: merges status only; the entry says ``subresource: status``."""
        old = self._entry(t, ns, name)
        if old is None:
            raise self._not_found(t, name)
        new = patches.json_copy(old.obj)
        new["status"] = patches.ssa_merge(old.obj.get("status") or {}, applied.get("status") or {})
        owners = {k: set(v) for k, v in old.owners.items()}
        owners[(manager, "Apply", "status")] = set(patches.status_paths(applied))
        return self._replace(t, ns, name, old, new, dry_run, owners)

    def _delete(self, t: ResourceType, ns: str, name: str, dry_run: bool) -> web.Response:
        e = self._entry(t, ns, name)
        if e is None:
            raise self._not_found(t, name)
        meta = e.obj["metadata"]
        if meta.get("finalizers"):
            # registry/generic/registry/store.go (Delete -> updateForGracefulDeletionAndFinalizers):
            # an object with finalizers is only marked; it stays, readable, until the last
            # finalizer is removed by an update. The answer is the object itself (200).
            marked = patches.json_copy(e.obj)
            marked["metadata"].setdefault("deletionTimestamp", _now())
            marked["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            if dry_run or marked["metadata"]["deletionTimestamp"] == meta.get("deletionTimestamp"):
                return self._json(marked if dry_run else e.obj)
            marked["metadata"]["generation"] = meta.get("generation", 1) + 1
            self._commit(t, ns, name, marked, "MODIFIED", owners=e.owners)
            return self._json(marked)
        if not dry_run:
            self._commit(t, ns, name, None, "DELETED", old=e)
        return self._json({"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Success", "details": {
                               "name": name, "kind": t.plural, "uid": meta.get("uid"),
                               **({"group": t.group} if t.group else {})}})

    def _delete_collection(self, t: ResourceType, ns: str | None, q: Mapping[str, str]) -> web.Response:
        gone = self._matching(t, ns, q)
        if "All" not in q.getall("dryRun", []):
            for e in gone:
                m = e.obj["metadata"]
                self._commit(t, m.get("namespace", ""), m["name"], None, "DELETED", old=e)
        return self._json({"kind": f"{t.kind}List", "apiVersion": t.api_version,
                           "metadata": {"resourceVersion": str(self._rv)},
                           "items": [e.obj for e in gone]})


def _listener_causes(kind: str, spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the Gateway API v1.6.1 CRDs refuse in ``spec.listeners`` (and a ListenerSet's
    ``spec.parentRef``): required, 1..64 items, and the CEL rules on the list
    (``config/crd/standard/gateway.networking.k8s.io_{gateways,listenersets}.yaml``,
    ``apis/v1/gateway_types.go``, ``apis/v1/listenerset_types.go`` @v1.6.1)."""
    causes: list[tuple[str, str]] = []
    if kind == "ListenerSet":
        ref = spec.get("parentRef")
        if not isinstance(ref, dict):
            causes.append(("spec.parentRef", "Required value"))
        elif not ref.get("name"):
            causes.append(("spec.parentRef.name", "Required value"))
    listeners = spec.get("listeners")
    if listeners is None:
        return causes + [("spec.listeners", "Required value")]
    if not isinstance(listeners, list):
        return causes + [("spec.listeners", f'Invalid value: "{type(listeners).__name__}": '
                          'spec.listeners in body must be of type array')]
    if not listeners:
        causes.append(("spec.listeners", "Invalid value: 0: spec.listeners in body should have "
                       "at least 1 items"))
    if len(listeners) > 64:
        causes.append(("spec.listeners", f"Too many: {len(listeners)}: must have at most 64 "
                       "items"))
    items = [l for l in listeners if isinstance(l, dict)]
    for i, l in enumerate(items):
        for field in ("name", "port", "protocol"):
            if l.get(field) in (None, ""):
                causes.append((f"spec.listeners[{i}].{field}", "Required value"))
        port = l.get("port")
        if isinstance(port, int) and not 1 <= port <= 65535:
            causes.append((f"spec.listeners[{i}].port", f"Invalid value: {port}: "
                           f"spec.listeners[{i}].port in body should be "
                           + ("greater than or equal to 1" if port < 1 else
                              "less than or equal to 65535")))
    rules = (
        (lambda: all(not l.get("hostname") for l in items if l.get("protocol") in ("TCP", "UDP")),
         "hostname must not be specified for protocols ['TCP', 'UDP']"),
        (lambda: all(sum(1 for m in items if m.get("name") == l.get("name")) == 1 for l in items),
         "Listener name must be unique within the Gateway"),
        (lambda: all(sum(1 for m in items if (m.get("port"), m.get("protocol"), m.get("hostname"))
                         == (l.get("port"), l.get("protocol"), l.get("hostname"))) == 1
                     for l in items if l.get("port") is not None),
         "Combination of port, protocol and hostname must be unique for each listener"),
    )
    for holds, message in rules:
        if not holds():
            causes.append(("spec.listeners", f'Invalid value: "array": {message}'))
    return causes


def _wants_aggregated(accept: str | None) -> bool:
    """Does an Accept header ask for ``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``?"""
    for media in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in media.split(";")[1:] if "=" in p)
        if media.split(";")[0].strip() == _JSON and params.get("g") == "apidiscovery.k8s.io" \
                and params.get("v") == "v2" and params.get("as") == "APIGroupDiscoveryList":
            return True
    return False


def _qualified(t: ResourceType) -> str:
    return f"{t.plural}.{t.group}" if t.group else t.plural


def _spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal apart from resourceVersion and managedFields timestamps."""
    def norm(o: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(o)
        meta = dict(out.get("metadata") or {})
        meta.pop("resourceVersion", None)
        meta["managedFields"] = [{k: v for k, v in m.items() if k != "time"}
                                 for m in meta.get("managedFields") or []]
        out["metadata"] = meta
        return out
    return norm(a) == norm(b)


def _manager_from_agent(agent: str | None) -> str:
    """The API server's default field manager: the user agent's program name."""
    if not agent:
        return "unknown"
    return agent.split("/", 1)[0].strip() or "unknown"


# --------------------------------------------------------------------------- request options

#: Verbs whose options carry ``dryRun`` (Create/Update/Patch/DeleteOptions).
_OPTION_KINDS = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions",
                 "delete": "DeleteOptions", "deletecollection": "DeleteOptions"}
FIELD_MANAGER_MAX_LENGTH = 128


def _validate_options(verb: str, query: Any, ctype: str) -> None:
    """The option checks of apimachinery/pkg/apis/meta/v1/validation/validation.go
    (ValidatePatchOptions, ValidateCreateOptions, ..., ValidateDryRun, ValidateFieldManager),
    answered as the handlers do: 422 Invalid on ``<Kind>Options.meta.k8s.io ""``
    (endpoints/handlers/patch.go, create.go, update.go, delete.go)."""
    kind = _OPTION_KINDS.get(verb)
    if kind is None:
        return
    causes: list[tuple[str, str]] = []
    dry_run = query.getall("dryRun", []) if hasattr(query, "getall") else \
        ([query["dryRun"]] if "dryRun" in query else [])
    if any(v != "All" for v in dry_run):
        shown = ", ".join(json.dumps(v) for v in dry_run)
        causes.append(("dryRun", f'Unsupported value: []string{{{shown}}}: supported values: "All"'))
    if verb == "patch":
        if ctype != "application/apply-patch+yaml":
            if "force" in query:
                causes.append(("force", "Forbidden: may not be specified for non-apply patch"))
        elif not query.get("fieldManager"):
            causes.append(("fieldManager", "Required value: is required for apply patch"))
    manager = query.get("fieldManager") or ""
    if verb != "delete" and verb != "deletecollection":
        if len(manager) > FIELD_MANAGER_MAX_LENGTH:
            causes.append(("fieldManager", f"Too long: may not be more than "
                           f"{FIELD_MANAGER_MAX_LENGTH} bytes"))
        for i, ch in enumerate(manager):
            if not ch.isprintable():
                causes.append(("fieldManager", f"Invalid value: {json.dumps(manager)}: invalid "
                               f"character U+{ord(ch):04X} (at position {i})"))
    if causes:
        msg = f'{kind}.meta.k8s.io "" is invalid: ' + ", ".join(f"{f}: {m}" for f, m in causes)
        raise ApiStatus(422, "Invalid", msg, {"kind": kind, "group": "meta.k8s.io", "causes": [
            {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]})


# --------------------------------------------------------------------------- ownership helpers

OwnerKey = tuple[str, str, str]


def _take_changed(owners: Mapping[OwnerKey, set], old: Mapping[str, Any], new: Mapping[str, Any],
                  key: OwnerKey) -> dict[OwnerKey, set]:
    """Ownership after a non-apply write by ``key``: it takes every field it set or changed
    (status fields when it wrote the status subresource), the others keep the rest."""
    paths_of = patches.status_paths if key[2] == "status" else patches.leaf_paths
    before = paths_of(dict(old)) if old else {}
    after = paths_of(dict(new))
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    out = {k: set(v) - changed for k, v in owners.items()}
    if changed:
        out.setdefault(key, set()).update(changed)
    return {k: v for k, v in out.items() if v}


def _owners_from_managed_fields(entries: Any) -> dict[OwnerKey, set] | None:
    """managedFields sent in an update, decoded as the API server does, or None when they do
    not decode (k8s.io/apimachinery v0.35 pkg/util/managedfields/internal/managedfields.go,
    DecodeManagedFields): every entry needs operation Apply or Update, a non-empty apiVersion
    and fieldsType FieldsV1. One empty entry is the documented reset (fieldmanager.go,
    isResetManagedFields). Two entries with the same manager identifier (BuildManagerIdentifier:
    manager, operation, subresource, and apiVersion for an Update) are one: the later wins."""
    if not isinstance(entries, list):
        return None
    if entries == [{}]:
        return {}
    by_identifier: dict[tuple[str, str, str, str], tuple[OwnerKey, set]] = {}
    for m in entries:
        if not isinstance(m, dict) or m.get("operation") not in ("Apply", "Update") \
                or not m.get("apiVersion") or m.get("fieldsType") != "FieldsV1":
            return None
        key = (str(m.get("manager") or ""), str(m["operation"]), str(m.get("subresource") or ""))
        identifier = (*key, str(m["apiVersion"]) if m["operation"] == "Update" else "")
        by_identifier[identifier] = (key, set(patches.paths_from_fields_v1(m.get("fieldsV1") or {})))
    out: dict[OwnerKey, set] = {}
    for key, paths in by_identifier.values():
        out.setdefault(key, set()).update(paths)
    return out


# --------------------------------------------------------------------------- defaulting

def _apply_defaults(t: ResourceType, obj: dict[str, Any]) -> None:
    """The server-side defaults of the fields raygate and doctor read (pkg/apis/*/v1/defaults.go:
    apps SetDefaults_Deployment/DaemonSet, core SetDefaults_Service/ServicePort/Container/
    PodSpec, networking SetDefaults_Ingress has none for paths). Only those: a field nobody
    reads stays as written."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if t.kind == "Deployment":
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                if isinstance(ru, dict):
                    ru.setdefault("maxUnavailable", "25%")
                    ru.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif t.kind == "DaemonSet":
        strategy = spec.setdefault("updateStrategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                if isinstance(ru, dict):
                    ru.setdefault("maxUnavailable", 1)
                    ru.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
    elif t.kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "targetPort" not in port and "port" in port:
                    port["targetPort"] = port["port"]
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
    if t.kind in ("Deployment", "DaemonSet", "Pod"):
        pod = spec if t.kind == "Pod" else ((spec.get("template") or {}).get("spec"))
        if isinstance(pod, dict):
            pod.setdefault("dnsPolicy", "ClusterFirst")
            pod.setdefault("restartPolicy", "Always")
            for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
                if not isinstance(c, dict):
                    continue
                for port in c.get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
