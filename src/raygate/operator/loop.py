"""The operator's main loop: elect, watch, batch, reconcile, retry.

* Leader election first (``leader.LeaseElector``): only the Lease holder reconciles; a standby
  keeps its watches warm and takes over within the lease duration.
* Watches on RayCluster/RayService/RayJob say *that* something changed (and, with the port
  records' and the operator's routes' watches, keep the cache a pass reads: ``cache``);
  changes arriving close together are coalesced into one pass (``batch_window``), so 500
  clusters created at once cost a handful of passes, each writing the shared tcp-services
  map once.
* A full pass also runs every ``resync_seconds`` (repair, garbage collection), however many
  passes changes caused meanwhile; with probes on, a pass runs every probe interval too.
* Failures (409 from a concurrent writer, 410 Gone on a watch, 5xx, time-outs) are retried
  with exponential backoff and jitter, capped; a watch that fails is restarted from a fresh
  list, which is what a 410 Gone asks for.
"""

from __future__ import annotations

import itertools
import logging
import queue
import random
import threading
import time
from typing import Any, Callable, Iterator, Mapping

from raygate.operator.cache import WatchCache
from raygate.operator.leader import LeaseElector
from raygate.operator.metrics import Metrics
from raygate.operator.reconciler import PassReport, Reconciler

log = logging.getLogger("raygate.operator")


class Backoff:
    """Exponential backoff with full jitter: base * 2^n, capped (as client-go's workqueue)."""

    def __init__(self, base: float = 0.2, cap: float = 30.0,
                 rand: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self.rand = base, cap, rand
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * (2 ** self.failures))
        self.failures += 1
        return delay * (0.5 + self.rand() / 2)

    def reset(self) -> None:
        self.failures = 0


class Operator:
    def __init__(self, reconciler: Reconciler, elector: LeaseElector, metrics: Metrics, *,
                 resync_seconds: float = 300, batch_window: float = 0.05,
                 watch: Callable[..., None] | None = None,
                 on_pass: Callable[[PassReport], None] | None = None) -> None:
        self.reconciler = reconciler
        self.elector = elector
        self.metrics = metrics
        self.resync_seconds = resync_seconds
        self.batch_window = batch_window
        self.dirty: queue.Queue[str] = queue.Queue()
        self.stop_event = threading.Event()
        self.watch = watch
        self.on_pass = on_pass
        self.backoff = Backoff()
        self.last_report: PassReport | None = None
        #: When the first change not yet taken by a pass arrived (``_drain``).
        self._first_change_at: float | None = None

    def poke(self, why: str = "change") -> None:
        if self._first_change_at is None and why != "stop":
            self._first_change_at = time.monotonic()
        self.dirty.put(why)

    def stop(self) -> None:
        self.stop_event.set()
        self.dirty.put("stop")

    def start_watches(self) -> list[threading.Thread]:
        """A watch per selection the reconciler reads (``Reconciler.watched``): the Ray
        kinds, whose events start passes, and (with a cache) the port records and routes."""
        threads = []
        if self.watch is None:
            return threads
        for w in self.reconciler.watched():
            poke = self._poke_on_change(w) if w.view is not None else \
                (lambda: self.poke("watch")) if w.pokes else _quiet
            t = threading.Thread(target=self.watch, args=(w.api_version, w.kind, poke,
                                                          self.stop_event),
                                 kwargs={"namespace": w.namespace, "labels": w.label_selector},
                                 daemon=True, name=f"watch-{w.kind}")
            t.start()
            threads.append(t)
        return threads

    def _poke_on_change(self, w: Any) -> Callable[[], None]:
        """A poke for ``w``'s watch that starts a pass only when ``w.view`` of the cached
        objects changed (the cache has the event applied when the watch pokes)."""
        cache = self.reconciler.cache
        seen: list[Any] = []

        def poke() -> None:
            now = w.view(cache.objects([w.kind])) if cache is not None else None
            if not seen or now != seen[0] or cache is None:
                seen[:] = [now]
                self.poke("watch")
        return poke

    def run(self, *, max_passes: int | None = None) -> None:
        """Run until ``stop()`` (or ``max_passes`` passes, for ``--once`` and tests)."""
        self.start_watches()
        passes = 0
        next_resync = 0.0
        # Probes are due every probe interval, which may be shorter than the resync: a pass
        # (not a full one) runs when they are, so a path that broke is seen within it.
        probe = self.reconciler.settings.probe
        probe_every = probe.interval_seconds if probe.enabled else None
        next_probe = float("inf")
        leading = False
        while not self.stop_event.is_set():
            now = time.monotonic()
            if self.elector.try_acquire_or_renew():
                if not leading:
                    log.info("leading: %s holds lease %s/%s", self.elector.identity,
                             self.elector.namespace, self.elector.name)
                    leading = True
                    next_resync = 0.0  # a new leader starts with a full pass
                self.metrics.set("raygate_operator_is_leader", 1)
            else:
                if leading:
                    log.warning("lost the lease; standing by")
                leading = False
                self.metrics.set("raygate_operator_is_leader", 0)
                self.metrics.ready = True
                self._wait(self.elector.retry_period)
                continue
            # Drained before every pass, so that what is queued during it is new (``more_waiting``).
            changed = self._drain()
            if now >= next_resync or changed or now >= next_probe:
                try:
                    report = self.reconciler.run_pass(
                        more_waiting=lambda: not self.dirty.empty(), fresh=now >= next_resync)
                except Exception as e:  # noqa: BLE001 - any failure is retried, with backoff
                    self.metrics.inc("raygate_operator_reconcile_errors_total")
                    delay = self.backoff.next_delay()
                    log.warning("reconcile failed (%s); retrying in %.1fs", _short(e), delay)
                    self._wait(delay)
                    self.poke("retry")
                    continue
                self.backoff.reset()
                self._record(report)
                if report.told_later:
                    self.poke("tell")  # the annotations and Events left to the next pass
                passes += 1
                if now >= next_resync:
                    next_resync = time.monotonic() + self.resync_seconds
                if probe_every is not None and not report.told_later:
                    next_probe = time.monotonic() + probe_every
                if max_passes is not None and passes >= max_passes:
                    break
            self._wait(self.elector.retry_period)
        self.elector.release()

    def _drain(self) -> bool:
        """True when changes are queued; gathers a burst until ``batch_window`` after its
        first change. Changes that arrived during the previous pass have been gathering
        since then: the pass starts at once (in a burst of 500 creates, waiting the window
        again after every pass added 50 ms per pass to the clusters' wait, a quarter of a
        second by the last pass; docs/benchmarks.md, "Operator at scale")."""
        got = False
        try:
            while True:
                why = self.dirty.get_nowait()
                got = got or why != "stop"
        except queue.Empty:
            pass
        if got:
            first = self._first_change_at
            pause = self.batch_window if first is None else \
                first + self.batch_window - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                while True:
                    self.dirty.get_nowait()
            except queue.Empty:
                pass
            # Changes from here on are the next pass's: they start its window.
            self._first_change_at = None
        return got

    def _wait(self, seconds: float) -> None:
        """Sleep until the next renewal, or earlier when a change arrives."""
        try:
            why = self.dirty.get(timeout=seconds)
            self.dirty.put(why)
        except queue.Empty:
            pass

    def _record(self, report: PassReport) -> None:
        self.last_report = report
        m = self.metrics
        m.inc("raygate_operator_reconciles_total")
        m.inc("raygate_operator_allocations_total", len(report.allocated))
        m.inc("raygate_operator_releases_total", len(report.released))
        m.inc("raygate_operator_api_writes_total", report.writes)
        m.set("raygate_operator_exposed_clusters", report.exposed)
        m.inc("raygate_operator_probes_total", len(report.probes))
        m.inc("raygate_operator_probe_failures_total",
              sum(1 for ok, _ in report.probes.values() if not ok))
        if report.last_probes is not None:
            def labels(cluster: str) -> tuple[tuple[str, str], ...]:
                namespace, _, name = cluster.partition("/")
                return (("namespace", namespace), ("name", name))
            m.replace_family("raygate_operator_probe_success", {
                labels(c): float(ok) for c, (ok, _) in report.last_probes.items()})
            m.replace_family("raygate_operator_probe_timestamp_seconds", {
                labels(c): when for c, (_, when) in report.last_probes.items()})
        if report.placement is not None and report.placement.state in ("move", "lost"):
            m.inc("raygate_operator_drift_events_total")
        m.ready = True
        for e in report.errors:
            log.warning("%s", e)
        for w in report.warnings:
            log.warning("%s", w)
        if self.on_pass is not None:
            self.on_pass(report)


def lightkube_watch(source: Any, cache: WatchCache | None = None, *,
                    timeout_seconds: int = 60) -> Callable[..., None]:
    """A watch function over the ClusterSource's lightkube client: pokes on every event and
    restarts (with backoff) when the stream fails, or the server answers 410 Gone (a 410
    status or an ERROR event). A stream the server ends (its ``timeoutSeconds``) is watched
    again from the last resourceVersion seen, as lightkube's ``GenericSyncClient.watch`` and
    client-go's reflector do (k8s.io/client-go/tools/cache/reflector.go @v0.31.0, watch loop);
    ``timeout_seconds`` is how long the server keeps one watch request open.

    ``namespace`` and ``labels`` select what is watched (``*``: every namespace).

    With a ``cache``, each (re)start LISTs the selection into it and watches from that
    list's resourceVersion, applying every event to it (client-go's reflector, ListAndWatch);
    while the watch is down the kind is not synced and passes LIST it. A kind a write left in
    doubt (``WatchCache.unsync``) is listed again when its stream ends."""
    # Imported here, once, before the watch threads start: threads importing the same modules
    # at once can deadlock on the import locks (see ``reconciler.Api.prepare``).
    import lightkube.core.exceptions  # noqa: F401
    import lightkube.core.selector  # noqa: F401
    from lightkube.core.resource import NamespacedResource
    import lightkube.models.meta_v1  # noqa: F401
    import msgspec  # noqa: F401

    transports: list[Any] = []
    made = threading.Lock()

    def transport() -> Any:
        """The operator's own connections to the server lightkube talks to (one Transport
        for every watch of this operator; made at the first watch, once the client is)."""
        from raygate.operator.transport import Transport
        with made:
            if not transports:
                transports.append(Transport(source.client._client._client))
            return transports[0]

    def watch(api_version: str, kind: str, poke: Callable[[], None],
              stop: threading.Event, *, namespace: str | None = "*",
              labels: Mapping[str, str] | None = None) -> None:
        backoff = Backoff(base=0.5, cap=30)
        while not stop.is_set():
            try:
                group, _, version = api_version.rpartition("/")
                if version not in source.discover().get(group, []) or \
                        source.serves(api_version, kind) is False:
                    return  # not installed (or not at this version): nothing to watch
                res = source.resource_for({"apiVersion": api_version, "kind": kind})
                if not issubclass(res, NamespacedResource):
                    namespace = None  # cluster-scoped (Nodes): no namespace in its URLs
                since = None
                if cache is not None:
                    listed = source.client.list(res, namespace=namespace, labels=labels or None)
                    cache.replace(kind, [_as_dict(o, api_version, kind) for o in listed])
                    since = listed.resourceVersion
                    poke()  # reconcile from the fresh list
                while not stop.is_set():
                    for event, obj in watch_stream(source, res, namespace=namespace,
                                                   labels=labels, since=since,
                                                   timeout_seconds=timeout_seconds,
                                                   transport=transport()):
                        obj.setdefault("apiVersion", api_version)
                        obj.setdefault("kind", kind)
                        since = (obj.get("metadata") or {}).get("resourceVersion") or since
                        if cache is not None:
                            cache.apply(kind, event, obj)
                        poke()
                        backoff.reset()
                        if stop.is_set():
                            return
                    if cache is not None and not cache.synced([kind]):
                        break  # left in doubt by a write: list again
            except Exception as e:  # noqa: BLE001 - 410 Gone, resets, 5xx: re-list and retry
                if cache is not None:
                    cache.unsync(kind)
                log.info("watch %s ended (%s); restarting", kind, _short(e))
                poke()  # what happened meanwhile is unknown: reconcile from a fresh list
                stop.wait(backoff.next_delay())
        if cache is not None:
            cache.unsync(kind)
    return watch


def watch_stream(source: Any, res: Any, *, namespace: str | None = "*",
                 labels: Mapping[str, str] | None = None,
                 since: str | None = None, timeout_seconds: int = 60,
                 transport: Any = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """One watch request: its events as (type, object as a plain dict), until the server ends
    the stream. An ERROR event raises ``ApiError`` with its Status (a 410 Gone among them), an
    error status too.

    The request is lightkube's own (``GenericSyncClient.prepare_request``: URL, selectors; its
    httpx client: server, TLS, authentication; the watch time-outs of
    ``GenericSyncClient.watch``), but each line is decoded straight into dicts with msgspec
    (lightkube's own JSON library) instead of into lightkube's resource objects that the
    operator turned back into dicts (``to_dict``): an eighth less CPU per event (0.143 against
    0.162 ms read one by one; bench/watch_decode.py, docs/benchmarks.md "Operator at scale").
    The rest is the HTTP layers' (httpx, httpcore, h11: each event is a chunk of its own): with a
    usable ``transport`` (the operator's own connections, ``Transport.stream``) the request
    lightkube built is sent over it instead, 0.08 ms of CPU per live event against 0.12.
    lightkube 1.0's ``Client._client`` (a ``GenericSyncClient``) and its ``_watch_timeout``
    are private: lightkube is pinned to 1.0.x (pyproject.toml) and
    tests/operator/test_cache.py and test_leader.py run this against the fake API server."""
    import msgspec
    from lightkube.core.exceptions import ApiError
    from lightkube.core.selector import build_selector
    from lightkube.models.meta_v1 import Status

    from raygate.operator.transport import Stream

    generic = source.client._client
    params: dict[str, Any] = {"timeoutSeconds": timeout_seconds, "resourceVersion": since,
                              "labelSelector": build_selector(labels) if labels else None}
    br = generic.prepare_request("list", res=res, namespace=namespace, watch=True,
                                 params=params)
    request = generic._client.build_request(br.method, br.url, params=br.params,
                                            timeout=generic._watch_timeout)
    response: Any = None
    if transport is not None and transport.usable:
        # The operator's own connection (``transport.Transport.stream``): a watch event read
        # through httpx, httpcore and h11 cost more than decoding it; a 401 is httpx's.
        # The server ends the watch after timeout_seconds: a read waiting longer than that
        # is a connection gone dead (lightkube's httpx watch would wait for ever).
        response = transport.stream(str(request.url), timeout=timeout_seconds + 30)
        if response.status_code == 401:
            response.close()
            response = None
    if response is None:
        response = generic.send(request, stream=True)
    try:
        through_httpx = not isinstance(response, Stream)
        if response.status_code >= 400:
            if through_httpx:
                response.read()
            else:
                import httpx2
                response = httpx2.Response(response.status_code, headers=response.headers,
                                           content=response.read(), request=request)
            generic.raise_for_status(response)  # ApiError when the body is a Status
        decode = msgspec.json.decode
        rest = b""
        chunks = response.iter_bytes() if through_httpx else response.chunks()
        # The newline after the stream: its last line, should the server end it without one.
        for chunk in itertools.chain(chunks, [b"\n"]):
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = decode(line)
                kind, obj = event.get("type"), event.get("object")
                if kind == "ERROR":
                    raise ApiError(status=Status.from_dict(obj or {}))
                if isinstance(obj, dict):
                    yield kind, obj
    finally:
        response.close()


def _as_dict(obj: Any, api_version: str, kind: str) -> dict[str, Any]:
    d = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    d.setdefault("apiVersion", api_version)
    d.setdefault("kind", kind)
    return d


def _quiet() -> None:
    """The poke of a watch whose events only keep the cache."""


def _short(e: BaseException) -> str:
    status = getattr(e, "status", None)
    if status is not None and getattr(status, "code", None):
        return f"{status.code} {getattr(status, 'message', '')}"
    return f"{type(e).__name__}: {e}"[:200]
