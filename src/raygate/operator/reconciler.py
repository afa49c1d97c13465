"""The operator's writes: one pass turns the cluster's state into what ``desired`` asks for.

A pass is level-based, not event-based: it reads the Ray clusters, the port allocations and the
operator's routes (from the watches' cache, ``cache``, or a LIST per kind whatever the number of
clusters), decides with the pure functions of ``desired`` and ``allocations``, and writes only
what differs. So a restart, a crash between two writes or a lost watch event costs one pass,
never a lost or duplicated port: every write is idempotent and every decision is re-derived
from what the API server holds.

Shared objects are written once per pass (the tcp-services ConfigMap, with the entries of every
exposed cluster, by server-side apply under the operator's own field manager, so entries other
tools wrote stay), per-cluster objects once per cluster that changed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from raygate.operator import allocations as alloc
from raygate.operator import desired, placement, probing
from raygate.operator.cache import Watched, WatchCache, key_of
from raygate.operator.settings import OperatorSettings

log = logging.getLogger("raygate.operator")

FIELD_MANAGER = "raygate-operator"
RAY_KINDS = (("ray.io/v1", "RayCluster"), ("ray.io/v1", "RayService"), ("ray.io/v1", "RayJob"))
GATEWAY_API = "gateway.networking.k8s.io"
#: The kinds of the per-cluster objects each backend writes (RBAC: list, patch, delete).
#: gateway-api's TCPRoute version is the one the API server serves (``Reconciler._tcp_version``).
ROUTE_KINDS = {"ingress-nginx": (("networking.k8s.io/v1", "Ingress"),),
               "gateway-api": ((f"{GATEWAY_API}/v1", "HTTPRoute"), (None, "TCPRoute"),
                               (f"{GATEWAY_API}/v1", "ListenerSet"))}


@dataclass
class PassReport:
    """What one pass did (for logs, Events, metrics and tests)."""

    clusters: int = 0
    exposed: int = 0
    allocated: list[alloc.Allocation] = field(default_factory=list)
    released: list[tuple[alloc.Allocation, str]] = field(default_factory=list)
    routes_written: int = 0
    routes_deleted: int = 0
    annotated: int = 0
    writes: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The gateway placement check (pinned-node mode), when it ran.
    placement: placement.Decision | None = None
    #: cluster -> (ok, summary) of the probes run in this pass.
    probes: dict[str, tuple[bool, str]] = field(default_factory=dict)
    #: ``time.monotonic()`` once this pass's ports, tcp-services entries and routes were all
    #: written (the clusters are reachable); what users are told is written after it.
    routed_at: float | None = None
    #: The clusters whose annotations (and finalizer) this pass wrote.
    told: list[str] = field(default_factory=list)
    #: After a pass that probed (probing on, telling not left for later): every exposed
    #: cluster's last probe, ``cluster -> (ok, when: the reconciler's clock)``; None otherwise.
    last_probes: dict[str, tuple[bool, float]] | None = None
    #: Whether this pass left telling users (annotations, Events, probes) to a later pass,
    #: because more clusters were waiting to be routed (``Reconciler.tell_delay``).
    told_later: bool = False


class Api:
    """The few API calls a pass needs, over the lightkube client of a ``ClusterSource``.

    Kept small and explicit so that what the operator may do is what its RBAC grants
    (charts/raygate-operator/templates/rbac.yaml lists exactly these verbs)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self._writes = 0
        self._count_lock = threading.Lock()
        #: (apiVersion, kind, namespace) -> the URL of its collection (``_url``).
        self._prefixes: dict[tuple[str, str, str | None], str] = {}
        self._write_transport: Any = None

    @property
    def writes(self) -> int:
        return self._writes

    @writes.setter
    def writes(self, value: int) -> None:
        with self._count_lock:
            self._writes = value

    def _count(self) -> None:
        with self._count_lock:
            self._writes += 1

    @property
    def client(self) -> Any:
        return self.source.client

    def prepare(self) -> None:
        """Connect, discover and import the client's modules before calls run concurrently:
        the first use of each is not thread-safe (two threads importing lightkube at once
        can deadlock on the import locks; two would each build a client)."""
        import lightkube.core.exceptions  # noqa: F401
        import lightkube.core.resource  # noqa: F401
        import lightkube.types  # noqa: F401
        self.source.client
        self.source.discover()

    def _res(self, api_version: str, kind: str) -> Any:
        return self.source.resource_for({"apiVersion": api_version, "kind": kind})

    def installed(self, api_version: str) -> bool:
        group, _, version = api_version.rpartition("/")
        return version in self.source.discover().get(group, [])

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the API server serves ``kind`` at ``api_version`` (discovery, cached); when
        discovery cannot tell which kinds a version serves, the group version decides."""
        return self.installed(api_version) and self.source.serves(api_version, kind) is not False

    def list(self, api_version: str, kind: str, *, namespace: str = "*",
             labels: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        from lightkube.core import resource as r
        res = self._res(api_version, kind)
        scope = {"namespace": namespace} if issubclass(res, r.NamespacedResource) else {}
        out = []
        for o in self.client.list(res, labels=labels or None, **scope):
            d = o.to_dict() if hasattr(o, "to_dict") else dict(o)
            d.setdefault("apiVersion", api_version)
            d.setdefault("kind", kind)
            out.append(d)
        return out

    # The writes of a pass (create, apply, merge patch: five per new cluster) go to the server
    # lightkube's client talks to, as the user it authenticates (its httpx client, lightkube
    # 1.0 ``Client._client._client``), over connections of the operator's own
    # (``transport.Transport``: half the CPU of a write through httpx), with each request's
    # URL made once, whole: lightkube's own request building parses every URL three times
    # over (``httpx2._urlparse``). Reads and deletes stay lightkube calls. Errors are
    # lightkube's ApiError, made from the response as lightkube makes it
    # (lightkube/core/generic_client.py, transform_exception).

    def _http(self) -> Any:
        return self.client._client._client

    def _transport(self) -> Any:
        if self._write_transport is None:
            from raygate.operator.transport import Transport
            with self._count_lock:
                if self._write_transport is None:
                    self._write_transport = Transport(self._http())
        return self._write_transport

    def _url(self, api_version: str, kind: str, namespace: str | None, name: str | None = None,
             **query: str) -> str:
        """The absolute URL of a collection (no ``name``) or object, with ``query``."""
        from urllib.parse import quote, urlencode
        prefix = self._prefixes.get((api_version, kind, namespace))
        if prefix is None:
            from lightkube.core import resource as r
            res = self._res(api_version, kind)
            info = r.api_info(res)
            group, version = info.resource.group, info.resource.version
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            if namespace and issubclass(res, r.NamespacedResource):
                path += f"/namespaces/{quote(namespace, safe='')}"
            prefix = str(self._http().base_url).rstrip("/") + f"{path}/{info.plural}"
            self._prefixes[(api_version, kind, namespace)] = prefix
        url = prefix + (f"/{quote(name, safe='')}" if name else "")
        return url + (f"?{urlencode(query)}" if query else "")

    def _send(self, method: str, url: str, body: Any, content_type: str) -> Any:
        import json

        import httpx2
        content = json.dumps(body, separators=(",", ":")).encode()
        transport = self._transport()
        if transport.usable:
            reply = transport.send(method, url, content, content_type)
            if reply.status_code != 401:  # 401: httpx's auth flow refreshes the token
                if reply.status_code >= 400:
                    request = httpx2.Request(method, url)
                    _raise_for(request, httpx2.Response(reply.status_code, headers=reply.headers,
                                                        content=reply.content, request=request))
                return reply
        http = self._http()
        request = http.build_request(method, httpx2.URL(url), content=content,
                                     headers={"Content-Type": content_type})
        response = http.send(request)
        if response.status_code >= 400:
            response.read()
            _raise_for(request, response)
        return response

    def create(self, obj: dict[str, Any]) -> bool:
        """Create; False when the name is taken (409 AlreadyExists)."""
        from lightkube.core.exceptions import ApiError
        self._count()
        try:
            self._send("POST", self._url(obj["apiVersion"], obj["kind"],
                                         obj["metadata"].get("namespace")),
                       obj, "application/json")
        except ApiError as e:
            if e.status.code == 409:
                return False
            raise
        return True

    def apply(self, obj: dict[str, Any], *, force: bool = False) -> None:
        """Server-side apply under the operator's field manager."""
        self._count()
        meta = obj["metadata"]
        self._send("PATCH", self._url(obj["apiVersion"], obj["kind"], meta.get("namespace"),
                                      meta["name"], fieldManager=FIELD_MANAGER,
                                      **({"force": "true"} if force else {})),
                   obj, "application/apply-patch+yaml")

    def merge_patch(self, api_version: str, kind: str, namespace: str, name: str,
                    patch: dict[str, Any]) -> dict[str, Any] | None:
        """JSON merge patch; returns the object as the API server stored it."""
        self._count()
        response = self._send("PATCH", self._url(api_version, kind, namespace or None, name,
                                                 fieldManager=FIELD_MANAGER),
                              patch, "application/merge-patch+json")
        stored = response.json()
        return stored if isinstance(stored, dict) else None

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        from lightkube.core.exceptions import ApiError
        self._count()
        try:
            self.client.delete(self._res(api_version, kind), name, namespace=namespace)
        except ApiError as e:
            if e.status.code != 404:
                raise

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        from lightkube.core.exceptions import ApiError
        try:
            o = self.client.get(self._res(api_version, kind), name, namespace=namespace or None)
        except ApiError as e:
            if e.status.code in (403, 404):
                return None
            raise
        return o.to_dict() if hasattr(o, "to_dict") else dict(o)

    def event(self, cluster: Mapping[str, Any], reason: str, message: str,
              type_: str = "Normal") -> None:
        """A core/v1 Event on the object, where ``kubectl describe`` shows it (cluster-scoped
        objects such as Nodes get theirs in ``default``, as the kubelet's are)."""
        ns, name, uid, kind = desired.cluster_ref(cluster)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": ns},
            "involvedObject": {"apiVersion": cluster.get("apiVersion", "ray.io/v1"),
                               "kind": kind, "name": name, "namespace": ns, "uid": uid},
            "reason": reason, "message": message[:1024], "type": type_,
            "source": {"component": FIELD_MANAGER},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        })


def _raise_for(request: Any, response: Any) -> None:
    """A failed write as lightkube reports it: its ApiError (with the server's Status) when
    the answer is JSON, else httpx's status error."""
    from lightkube.core.exceptions import ApiError
    if response.headers.get("Content-Type") == "application/json":
        raise ApiError(request=request, response=response)
    response.raise_for_status()


class Reconciler:
    def __init__(self, api: Api, settings: OperatorSettings, *,
                 clock: Callable[[], float] = time.time, workers: int = 16,
                 tell_delay: float = 10.0, tell_later_from: int = 16,
                 cache: WatchCache | None = None) -> None:
        self.api = api
        #: The Ray clusters, port records and routes as the watches delivered them
        #: (``cache``, ``watched``); None: LIST them.
        self.cache = cache
        self.workers = workers
        #: Telling users may wait behind routing in a burst: when a pass wrote the routes of
        #: at least ``tell_later_from`` clusters and more are waiting to be routed, it ends once
        #: its routes are written and a later pass writes the annotations and Events, but
        #: never later than ``tell_delay`` seconds after the first pass that left them (see
        #: ``run_pass``). At a steady arrival rate a pass routes a few clusters and tells them
        #: at once.
        self.tell_delay = tell_delay
        self.tell_later_from = tell_later_from
        self._told_owed_since: float | None = None
        self._report_lock = threading.Lock()
        #: cluster -> (when probed, what was probed, ok): re-probed on change or after the
        #: interval; only exposed clusters are kept.
        self._probed: dict[str, tuple[float, Any, bool]] = {}
        #: The placement verdict of the last pass: an Event is written when it changes.
        self._last_placement = "ok"
        #: MetalLB mode: the load-balancer address last seen (an Event when it changes).
        self._last_lb_address: str | None = None
        #: The probe runner (``raygate.probe.probe``); tests may point it at a local server.
        self.probe_fn: Callable[..., Any] | None = None
        self.settings = settings
        self.clock = clock
        #: The tcp-services entries last written: unchanged entries are not written again.
        self._tcp_written: dict[str, str] | None = None
        self._tcp_route_version: str | None = None
        self._settings_for_plans: tuple[OperatorSettings, OperatorSettings] | None = None
        #: (cluster, with ports?) -> (what the plan was made from, the plan): a pass over
        #: unchanged clusters renders none of them again (see ``_plan``).
        self._plan_cache: dict[tuple[str, bool], tuple[Any, desired.Plan]] = {}
        #: route -> (the live resourceVersion found equal to, the desired object compared).
        self._verified: dict[tuple[str, str, str], tuple[Any, dict[str, Any]]] = {}

    # ------------------------------------------------------------------ reading

    def watched(self) -> list[Watched]:
        """What a pass reads that watches keep (``cache``): the Ray kinds (whose events start
        passes) and, with a cache, the port records and the operator's routes."""
        out = [Watched(v, k) for v, k in RAY_KINDS]
        cfg = self.settings.placement
        if self.cache is not None and cfg.mode == "pinned-node":
            # The gateway node going NotReady, losing its label or away is seen when it
            # happens, not at the next pass a Ray cluster's change or the resync makes.
            out.append(Watched("v1", "Node", view=lambda nodes: placement.view(
                nodes, cfg.label, cfg.failover_label)))
        if self.cache is not None:
            out.append(self._records())
            try:
                out += self._route_kinds()
            except Exception as e:  # noqa: BLE001 - discovery failed: passes LIST the routes
                log.warning("routes not watched (%s): every pass lists them", e)
        return out

    def _records(self) -> Watched:
        """The port records: ConfigMaps labelled as such in the operator's namespace."""
        return Watched("v1", "ConfigMap", self.settings.namespace,
                       ((alloc.ALLOCATION_LABEL, "true"),), pokes=False)

    def _route_kinds(self) -> list[Watched]:
        """The backend's route kinds the API server serves, only ours (the operator's
        managed-by label): what RBAC grants (charts/raygate-operator)."""
        kinds = [(v or f"{GATEWAY_API}/{self._tcp_version()}", k)
                 for v, k in ROUTE_KINDS[self.settings.backend]]
        return [Watched(v, k, "*", (("app.kubernetes.io/managed-by", FIELD_MANAGER),),
                        pokes=False)
                for v, k in kinds if self.api.serves(v, k)]

    def _read_kind(self, w: Watched, fresh: bool) -> list[dict[str, Any]]:
        """``w``'s objects: from the watches' cache when asked (not ``fresh``) and its watch is
        synced, else LISTed (and the LIST, made after every write of ours returned, settles
        what the cache expected of them: ``WatchCache.settle``)."""
        if not fresh and self.cache is not None and self.cache.synced([w.kind]):
            return self.cache.objects([w.kind])
        listed = self.api.list(w.api_version, w.kind, namespace=w.namespace,
                               labels=w.label_selector)
        if self.cache is not None:
            self.cache.settle(w.kind, listed)
        return listed

    def _clusters(self, fresh: bool = True) -> list[dict[str, Any]]:
        """The Ray clusters: from the watches' cache when asked (not ``fresh``) and every
        installed kind's watch is synced, else LISTed."""
        kinds = [(v, k) for v, k in RAY_KINDS if self.api.installed(v)]
        if not fresh and self.cache is not None and self.cache.synced(k for _, k in kinds):
            found = self.cache.objects(k for _, k in kinds)
        else:
            found = [c for listed in self._parallel(lambda vk: self.api.list(*vk), kinds)
                     for c in listed]
        return [c for c in found
                if self.settings.watches((c.get("metadata") or {}).get("namespace") or "")]

    def _allocations(self, fresh: bool = True) -> list[alloc.Allocation]:
        records = self._read_kind(self._records(), fresh)
        return [a for a in (alloc.from_object(r) for r in records) if a is not None]

    def _routes(self, fresh: bool = True) -> list[dict[str, Any]]:
        kinds = self._route_kinds()
        if not fresh and self.cache is not None and self.cache.synced(w.kind for w in kinds):
            return self.cache.objects(w.kind for w in kinds)  # no thread needed to read them
        return [r for listed in self._parallel(lambda w: self._read_kind(w, fresh), kinds)
                for r in listed]

    def _read(self, fresh: bool = True) -> tuple[list[dict[str, Any]], list[alloc.Allocation],
                                                 list[dict[str, Any]], dict[str, Any] | None]:
        """Everything a pass reads first, at once (the reads are independent; one after the
        other they were most of a quiet pass): the Ray clusters, the port records, our routes
        and (ingress-nginx) the shared tcp-services map."""
        self.api.prepare()
        ctl = self.settings.controller
        tcp = (lambda: self.api.get("v1", "ConfigMap", ctl.namespace,
                                    ctl.tcp_services_config_map)) \
            if self.settings.backend == "ingress-nginx" else (lambda: None)
        clusters, held, routes, tcp_map = self._parallel(
            lambda read: read(), [lambda: self._clusters(fresh), lambda: self._allocations(fresh),
                                  lambda: self._routes(fresh), tcp])
        return clusters, held, routes, tcp_map

    def _plan_settings(self) -> OperatorSettings:
        """The settings plans are made with (gateway-api: with the TCPRoute version served),
        one object for as long as ``self.settings`` is the same one."""
        if self._settings_for_plans is None or self._settings_for_plans[0] is not self.settings:
            settings = self.settings
            if settings.backend == "gateway-api":
                settings = settings.model_copy(update={
                    "gateway_api": settings.gateway_api.model_copy(
                        update={"tcp_route_api_version": self._tcp_version()})})
            self._settings_for_plans = (self.settings, settings)
            self._plan_cache = {}  # plans made with other settings
        return self._settings_for_plans[1]

    def _plan(self, previous: Mapping[tuple[str, bool], tuple[Any, desired.Plan]],
              cluster: Mapping[str, Any], settings: OperatorSettings,
              ports: Mapping[str, int] | None, shared: Any) -> desired.Plan:
        """``desired.plan``, made again only when what it is a pure function of changed: the
        cluster object (its uid and resourceVersion: any change to it is a new version), the
        ports it holds and the shared Gateway as read (new settings empty the cache, see
        ``_plan_settings``). Rendering every cluster on every pass was most of a pass over 500
        unchanged clusters."""
        meta = cluster.get("metadata") or {}
        ns, name, _, _ = desired.cluster_ref(cluster)
        key = (f"{ns}/{name}", ports is not None)
        basis = (meta.get("uid"), meta.get("resourceVersion"),
                 tuple(sorted(ports.items())) if ports else None,
                 None if shared is None else tuple(
                     (o.kind, o.namespace, o.name, o.metadata.get("resourceVersion"))
                     for o in shared))
        hit = previous.get(key)
        if meta.get("resourceVersion") is not None and hit is not None and hit[0] == basis:
            p = hit[1]
        else:
            p = desired.plan(cluster, settings, ports, shared)
        self._plan_cache[key] = (basis, p)
        return p

    def _tcp_version(self) -> str:
        """The TCPRoute version written: configured, else v1 when served (Gateway API v1.6),
        else v1alpha2 (discovery is read once)."""
        if self._tcp_route_version is None:
            self._tcp_route_version = self.settings.gateway_api.tcp_route_api_version or (
                "v1" if self.api.serves(f"{GATEWAY_API}/v1", "TCPRoute") else "v1alpha2")
        return self._tcp_route_version

    def _shared_gateway(self, namespaces: set[str]) -> Any:
        """gateway-api: the shared Gateway as read (never written), with the Namespace objects
        of ``namespaces`` (the annotated clusters') when its allowedListeners select namespaces
        by label; None for ingress-nginx."""
        if self.settings.backend != "gateway-api":
            return None
        from raygate.objects import KubeObject, ObjectSet, Origin
        ns, name = self.settings.gateway_ref
        gw = self.api.get(f"{GATEWAY_API}/v1", "Gateway", ns, name)
        objs = []
        if gw is not None:
            gw.setdefault("apiVersion", f"{GATEWAY_API}/v1")
            gw.setdefault("kind", "Gateway")
            objs.append(gw)
            allowed = ((gw.get("spec") or {}).get("allowedListeners") or {}).get("namespaces")
            if (allowed or {}).get("from") == "Selector":
                for cluster_ns in sorted(namespaces):
                    found = self.api.get("v1", "Namespace", "", cluster_ns)
                    if found is not None:
                        objs.append({**found, "apiVersion": "v1", "kind": "Namespace"})
        return ObjectSet(tuple(KubeObject(o, Origin("cluster")) for o in objs))

    # ------------------------------------------------------------------ one pass

    def run_pass(self, more_waiting: Callable[[], bool] = lambda: False, *,
                 fresh: bool = True) -> PassReport:
        """One pass: read, claim ports, write tcp-services and routes, then tell users.

        ``more_waiting``: whether changes arrived meanwhile (the operator's queue). When they
        did and this pass routed a burst (``tell_later_from`` clusters or more), telling users
        is left to the next pass (within ``tell_delay``): it is level-based
        like everything else (the next pass compares the annotations it reads with what they
        should be), so the clusters waiting get their routes first instead of waiting behind
        two writes per cluster (annotations, Event) of this pass's batch. The Event still
        follows the routes, as before.

        ``fresh``: LIST the Ray clusters even when the watches' cache (``cache``) is synced
        (the repair pass, a new leader's first pass)."""
        report = PassReport()
        start_writes = self.api.writes
        clusters, held, live_route_list, tcp_map = self._read(fresh)
        report.clusters = len(clusters)
        plans: dict[str, desired.Plan] = {}
        objs: dict[str, dict[str, Any]] = {}
        settings = self._plan_settings()
        shared = self._shared_gateway({desired.cluster_ref(c)[0] for c in clusters
                                       if desired.EXPOSE in ((c.get("metadata") or {})
                                                             .get("annotations") or {})})
        plan_cache, self._plan_cache = self._plan_cache, {}
        for c in clusters:
            p = self._plan(plan_cache, c, settings, None, shared)
            if p.request is None and p.refused is None and not _has_finalizer(c):
                continue
            plans[p.cluster] = p
            objs[p.cluster] = c

        # Allocations: free leaks and duplicates first, then give each purpose a port.
        live = {k: p.uid for k, p in plans.items() if p.exposed}
        wanted = {k: set(p.tcp_targets) for k, p in plans.items() if p.exposed}
        repair = alloc.repair(held, live, wanted)
        self._parallel(lambda item: self._release(item[0]), repair.release)
        report.released.extend(repair.release)
        released = {a for a, _ in repair.release}
        holdings: dict[str, dict[str, int]] = {}
        for a in held:
            if a not in released:
                holdings.setdefault(a.cluster, {})[a.purpose] = a.port
        taken = {a.port for a in held if a not in released}
        # Ports another tool maps in tcp-services are theirs: claiming one would make our apply
        # conflict with its manager on every pass.
        taken |= self._foreign_tcp_ports({a.port for a in held}, shared, tcp_map)
        needs = [(key, purpose) for key in sorted(plans) if plans[key].exposed
                 for purpose in sorted(plans[key].tcp_targets)
                 if purpose not in holdings.get(key, {})]
        candidates = alloc.free_ports(taken, self.settings.port_range)
        lock = threading.Lock()

        def claim(need: tuple[str, str]) -> tuple[str, str, int | None]:
            key, purpose = need
            return key, purpose, self._claim(plans[key], purpose, candidates, lock)

        for key, purpose, port in self._parallel(claim, needs):
            if port is None:
                report.errors.append(f"{key}: no free port left in "
                                     f"{self.settings.port_range.first}-"
                                     f"{self.settings.port_range.last} for {purpose}")
                self._event(objs[key], "PortRangeExhausted", report.errors[-1], "Warning")
                continue
            holdings.setdefault(key, {})[purpose] = port
            report.allocated.append(alloc.Allocation(port, key, plans[key].uid,
                                                     plans[key].kind, purpose))

        # Shared: one tcp-services map for every exposed cluster, written once per pass.
        self._write_tcp_services(holdings, plans)
        if shared is not None:
            # gateway-api: each cluster's TCP ports are listeners of its own ListenerSet on
            # the shared Gateway, rendered once its ports are held.
            for key, p in list(plans.items()):
                if p.exposed and holdings.get(key):
                    plans[key] = self._plan(plan_cache, objs[key], settings, holdings[key], shared)

        # Where the gateway runs: a pinned node that went away moves (or is reported).
        address = self._placement(report, shared, fresh)

        # Per cluster: routes, then what users are told.
        live_routes = {(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]): r
                       for r in live_route_list}
        wanted_routes: set[tuple[str, str, str]] = set()
        verified: dict[tuple[str, str, str], tuple[Any, dict[str, Any]]] = {}
        to_apply = []
        for key, p in sorted(plans.items()):
            for route in p.routes if p.exposed else []:
                rkey = (route["kind"], route["metadata"]["namespace"], route["metadata"]["name"])
                wanted_routes.add(rkey)
                live_route = live_routes.get(rkey)
                live_rv = ((live_route or {}).get("metadata") or {}).get("resourceVersion")
                seen = self._verified.get(rkey)
                if live_rv is not None and seen is not None and seen[0] == live_rv \
                        and seen[1] is route:
                    verified[rkey] = seen  # this version was already found to be what we want
                elif _same(live_route, route):
                    verified[rkey] = (live_rv, route)
                else:
                    to_apply.append(route)
        self._verified = verified
        stale = [(rk, r) for rk, r in live_routes.items() if rk not in wanted_routes]
        self._parallel(self._apply_route, to_apply)
        self._parallel(lambda item: self._delete_route(item[1]), stale)
        report.routes_written, report.routes_deleted = len(to_apply), len(stale)
        report.routed_at = time.monotonic()

        owed_since = self._told_owed_since or report.routed_at
        routed = {(r["metadata"].get("labels") or {}).get(desired.CLUSTER_LABEL)
                  for r in to_apply}
        if len(routed) >= self.tell_later_from and \
                report.routed_at - owed_since < self.tell_delay and more_waiting():
            self._told_owed_since = owed_since
            report.told_later = True
            report.exposed = sum(1 for p in plans.values() if p.exposed)
            report.writes = self.api.writes - start_writes
            return report
        self._told_owed_since = None
        warning = desired.shared_cookie_warning(plans, self.settings)
        if warning:
            report.warnings.append(warning)
        self._parallel(lambda key: self._tell(objs[key], plans[key], holdings.get(key, {}),
                                              report, address), sorted(plans))
        if self.settings.probe.enabled:
            self._probe(objs, plans, holdings, address, report)
        report.exposed = sum(1 for p in plans.values() if p.exposed)
        report.writes = self.api.writes - start_writes
        return report

    def _parallel(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """Run independent writes concurrently (the API server serves them in parallel; one at
        a time, a pass over 500 new clusters took seconds). The first failure is raised once
        all have finished, so the pass is retried with everything else already written."""
        items = list(items)
        if len(items) <= 1 or self.workers <= 1:
            return [fn(i) for i in items]
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            futures = [pool.submit(fn, i) for i in items]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        return [f.result() for f in futures]

    def _claim(self, p: desired.Plan, purpose: str, candidates: Iterator[int],
               lock: threading.Lock) -> int | None:
        """The lowest free port, claimed by creating its record; a 409 means another writer
        (a second replica, or our own earlier life) holds it: try the next. The record reads
        as held from the next pass on, whatever the watch has delivered (``_wrote``)."""
        while True:
            with lock:
                port = next(candidates, None)
            if port is None:
                return None
            a = alloc.Allocation(port, p.cluster, p.uid, p.kind, purpose)
            record = alloc.to_object(a, self.settings.namespace)
            created = self._wrote(self._records().kind, record, _same_record(record),
                                  lambda: self.api.create(record), doubt=True)
            if created:
                return port

    def _release(self, a: alloc.Allocation) -> None:
        """Delete a port record (a leak or a duplicate; gone already is fine)."""
        ns = self.settings.namespace
        record = alloc.to_object(a, ns)
        self._wrote(self._records().kind, record, _same_record(record),
                    lambda: self.api.delete("v1", "ConfigMap", ns, a.name), deleted=True)

    def _apply_route(self, route: dict[str, Any]) -> None:
        self._wrote(route["kind"], route, lambda live: _same(live, route),
                    lambda: self.api.apply(route))

    def _delete_route(self, route: dict[str, Any]) -> None:
        meta = route["metadata"]
        self._wrote(route["kind"], route, lambda live: True,
                    lambda: self.api.delete(route["apiVersion"], route["kind"],
                                            meta.get("namespace"), meta["name"]), deleted=True)

    def _wrote(self, kind: str, obj: dict[str, Any], same: Callable[[Mapping[str, Any]], bool],
               write: Callable[[], Any], *, deleted: bool = False, doubt: bool = False) -> Any:
        """``write()`` of ``obj`` (created or applied; ``deleted``: deleted), expected in the
        watches' cache from before it is sent (``WatchCache.expect``) and withdrawn when it
        failed: a pass reading the cache sees our own writes even before the watch delivers
        them. ``write()`` returning False (a 409 for a create) is a failure. ``doubt``: a
        write that raised may or may not have been made (a time-out, a reset): the kind is
        LISTed until its watch lists it again, since a port record written but missing from
        the cache would be claimed a second time."""
        if self.cache is None:
            return write()
        withdraw = self.cache.expect(kind, key_of(obj), None if deleted else obj, same)
        try:
            done = write()
        except Exception:
            withdraw()
            if doubt:
                self.cache.unsync(kind)
            raise
        if done is False:
            withdraw()
        return done

    def _foreign_tcp_ports(self, ours: set[int], shared: Any = None,
                           live: Mapping[str, Any] | None = None) -> set[int]:
        if shared is not None:
            # gateway-api: the shared Gateway's own listeners hold their ports; a ListenerSet
            # listener on one of them would be Conflicted.
            return {l["port"] for gw in shared.of_kind("Gateway")
                    for l in gw.spec.get("listeners") or []
                    if isinstance(l, dict) and isinstance(l.get("port"), int)} - ours
        if self.settings.backend != "ingress-nginx":
            return set()
        keys = ((live or {}).get("data") or {}).keys()
        return {int(k) for k in keys if str(k).isdigit() and int(k) not in ours}

    def _write_tcp_services(self, holdings: Mapping[str, Mapping[str, int]],
                            plans: Mapping[str, desired.Plan]) -> None:
        data = desired.tcp_services_data(holdings, plans)
        ctl = self.settings.controller
        if self.settings.backend != "ingress-nginx" or data == self._tcp_written:
            return
        self.api.apply({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ctl.tcp_services_config_map, "namespace": ctl.namespace},
            "data": data,
        })
        self._tcp_written = data

    def _probe(self, objs: Mapping[str, Mapping[str, Any]], plans: Mapping[str, desired.Plan],
               holdings: Mapping[str, Mapping[str, int]], address: str | None,
               report: PassReport) -> None:
        """Probe clusters whose routes changed, or whose last probe is older than the interval."""
        now = self.clock()
        due = []
        exposed = {key for key, p in plans.items() if p.exposed}
        self._probed = {k: v for k, v in self._probed.items() if k in exposed}
        for key, p in sorted(plans.items()):
            if not p.exposed:
                continue
            last = self._probed.get(key)
            if last is None or now - last[0] >= self.settings.probe.interval_seconds \
                    or last[1] != (address, tuple(sorted(holdings.get(key, {}).items()))):
                due.append(key)

        def one(key: str) -> None:
            c, p = objs[key], plans[key]
            settings = self.settings.model_copy(update={"gateway_address": address}) \
                if address else self.settings
            notes = desired.annotations_for(p, settings, holdings.get(key, {}))
            url = notes.get(desired.DASHBOARD_URL)
            if not url or "GATEWAY" in url:
                result = (False, "not probed: no gateway address known (set gatewayAddress)")
            else:
                ns = key.partition("/")[0]
                secret = self.api.get("v1", "Secret", ns, probing.token_secret_name(c))
                result = probing.run(url, notes.get(desired.CLIENT_ADDRESS),
                                     probing.decode_token(secret),
                                     timeout=self.settings.probe.timeout_seconds,
                                     probe_fn=self.probe_fn)
            with self._report_lock:
                report.probes[key] = result
                self._probed[key] = (now, (address, tuple(sorted(holdings.get(key, {}).items()))),
                                     result[0])
            previous = ((c.get("metadata") or {}).get("annotations") or {}).get(probing.PROBE_RESULT)
            ns, name, _, kind = desired.cluster_ref(c)
            stored = self.api.merge_patch(str(c.get("apiVersion") or "ray.io/v1"), kind, ns,
                                          name, {"metadata": {"annotations": {
                                              probing.PROBE_RESULT: result[1],
                                              probing.PROBE_TIME: probing.stamp(now)}}})
            self._cache_wrote(c, stored)
            if previous is None or previous.startswith("ok") != result[0]:
                self._event(c, "ProbeSucceeded" if result[0] else "ProbeFailed", result[1],
                            "Normal" if result[0] else "Warning")

        self._parallel(one, due)
        report.last_probes = {k: (ok, when) for k, (when, _, ok) in self._probed.items()}

    def _placement(self, report: PassReport, shared: Any = None,
                   fresh: bool = True) -> str | None:
        """Check where the gateway is reached: the pinned node (the label moves on failover)
        or MetalLB's address. Returns the address users should be told (the configured one
        wins)."""
        cfg = self.settings.placement
        if cfg.mode == "metallb":
            return self._load_balancer(report, shared)
        if cfg.mode != "pinned-node":
            return self.settings.gateway_address
        nodes = self._read_kind(Watched("v1", "Node"), fresh)
        decision = placement.decide(nodes, cfg.label, cfg.failover_label)
        report.placement = decision
        changed = decision.state != self._last_placement
        self._last_placement = decision.state
        by_name = {(n.get("metadata") or {}).get("name"): n for n in nodes}
        if decision.state == "move":
            for node, patch in placement.relabel_patches(decision, cfg.label):
                self.api.merge_patch("v1", "Node", "", node, patch)
            subject = by_name.get(decision.target) or {}
            self._event(_cluster_scoped(subject), "GatewayMoved", decision.reason, "Warning")
        elif decision.state == "lost" and changed:
            subject = by_name.get(decision.current) or {"apiVersion": "v1", "kind": "Node",
                                                        "metadata": {"name": "unknown"}}
            self._event(_cluster_scoped(subject), "GatewayUnreachable", decision.reason,
                        "Warning")
        return self.settings.gateway_address or decision.address

    def _load_balancer(self, report: PassReport, shared: Any) -> str | None:
        """MetalLB: the address it gave the controller's Service (the shared Gateway's, on the
        Gateway API backend); Events when it changes or is missing (``placement``)."""
        if shared is not None:
            gw_ns, gw_name = self.settings.gateway_ref
            found = [o.raw for o in shared.of_kind("Gateway")]
            subject, what = (found[0] if found else None), f"Gateway {gw_ns}/{gw_name}"
        else:
            ctl = self.settings.controller
            subject = self.api.get("v1", "Service", ctl.namespace, ctl.service)
            what = f"Service {ctl.namespace}/{ctl.service}"
        decision = placement.decide_load_balancer(subject, what, self._last_lb_address)
        report.placement = decision
        changed = decision.state != self._last_placement
        self._last_placement = decision.state
        if decision.address:
            self._last_lb_address = decision.address
        if decision.state == "move" or (decision.state == "lost" and changed):
            report.warnings.append(decision.reason)
            if subject is not None:
                reason = "GatewayMoved" if decision.state == "move" else "GatewayUnreachable"
                self._event({"apiVersion": "v1", "kind": "Service", **subject}
                            if shared is None else subject, reason, decision.reason, "Warning")
        # Without an address now, users keep the last one they were given: MetalLB gives a
        # requested IP back once it can, and a URL rewritten to nothing helps nobody.
        return self.settings.gateway_address or decision.address or self._last_lb_address

    def _tell(self, cluster: Mapping[str, Any], p: desired.Plan, ports: Mapping[str, int],
              report: PassReport, address: str | None = None) -> None:
        """Annotations and finalizer on the cluster, changed only when they differ."""
        meta = cluster.get("metadata") or {}
        current = meta.get("annotations") or {}
        finalizers = list(meta.get("finalizers") or [])
        managed = (desired.STATUS, desired.DASHBOARD_URL, desired.CLIENT_ADDRESS)
        if p.request is None and p.refused is None:
            # Unannotated or being deleted: everything of ours is gone above; let it go.
            patch: dict[str, Any] = {"annotations": {k: None for k in managed if k in current}}
            if desired.FINALIZER in finalizers:
                patch["finalizers"] = [f for f in finalizers if f != desired.FINALIZER]
                patch["resourceVersion"] = meta.get("resourceVersion")
            if patch["annotations"] or "finalizers" in patch:
                self._patch_cluster(cluster, patch, report)
                if "finalizers" in patch:
                    self._event(cluster, "Unexposed", "routes removed and ports released")
            return
        settings = self.settings
        if address and address != settings.gateway_address:
            settings = settings.model_copy(update={"gateway_address": address})
        want = desired.annotations_for(p, settings, ports)
        changes: dict[str, Any] = {k: v for k, v in want.items() if current.get(k) != v}
        changes.update({k: None for k in managed if k in current and k not in want})
        patch = {"annotations": changes} if changes else {}
        if p.exposed and desired.FINALIZER not in finalizers:
            patch["finalizers"] = finalizers + [desired.FINALIZER]
            patch["resourceVersion"] = meta.get("resourceVersion")
        if patch:
            self._patch_cluster(cluster, patch, report)
            if p.refused:
                self._event(cluster, "NotExposed", p.refused, "Warning")
            elif p.tcp_refused and desired.STATUS in changes:
                self._event(cluster, "TcpPortsNotExposed", p.tcp_refused, "Warning")
            elif changes:
                self._event(cluster, "Exposed", ", ".join(f"{k}={v}" for k, v in want.items()
                                                          if k != desired.STATUS))

    def _patch_cluster(self, cluster: Mapping[str, Any], metadata_patch: dict[str, Any],
                       report: PassReport) -> None:
        ns, name, _, kind = desired.cluster_ref(cluster)
        stored = self.api.merge_patch(str(cluster.get("apiVersion") or "ray.io/v1"), kind, ns,
                                      name, {"metadata": metadata_patch})
        self._cache_wrote(cluster, stored)
        self._keep_plans(cluster, stored)
        with self._report_lock:
            report.annotated += 1
            report.told.append(f"{ns}/{name}")

    def _cache_wrote(self, cluster: Mapping[str, Any], stored: Mapping[str, Any] | None) -> None:
        """Our patch's result into the watches' cache (see ``cache``: the next pass must not
        read the version from before it)."""
        if self.cache is not None and stored:
            self.cache.wrote(str(cluster.get("kind") or "RayCluster"),
                             (cluster.get("metadata") or {}).get("resourceVersion"),
                             {"apiVersion": cluster.get("apiVersion"),
                              "kind": cluster.get("kind"), **stored})

    def _keep_plans(self, cluster: Mapping[str, Any], stored: Mapping[str, Any] | None) -> None:
        """Our own patch of a cluster (annotations, finalizer) gives it a new resourceVersion
        but leaves its plans as they were (``desired.plan`` reads neither, tested in
        tests/operator/test_pure.py): the plans made from the old version are kept for the
        new one, so the next pass does not render every cluster it just told again. Only when
        the stored object differs from the one planned in nothing but those (no other writer
        changed it in between: a merge patch has no precondition)."""
        if not stored:
            return
        before = (cluster.get("metadata") or {}).get("resourceVersion")
        after = (stored.get("metadata") or {}).get("resourceVersion")
        if before is None or after is None or after == before \
                or _without_ours(cluster) != _without_ours(stored):
            return
        ns, name, _, _ = desired.cluster_ref(cluster)
        for key in ((f"{ns}/{name}", False), (f"{ns}/{name}", True)):
            hit = self._plan_cache.get(key)
            if hit is not None and hit[0][1] == before:
                self._plan_cache[key] = ((hit[0][0], after, *hit[0][2:]), hit[1])

    def _event(self, cluster: Mapping[str, Any], reason: str, message: str,
               type_: str = "Normal") -> None:
        try:
            self.api.event(cluster, reason, message, type_)
        except Exception:  # noqa: BLE001 - an Event is best effort, never a failed pass
            pass


def _cluster_scoped(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A cluster-scoped object as an Event subject: its Events live in ``default``."""
    meta = dict(obj.get("metadata") or {})
    meta["namespace"] = "default"
    return {**obj, "metadata": meta}


#: What the operator writes on a cluster (``Reconciler._tell``): not inputs of its plan.
_OURS = (desired.STATUS, desired.DASHBOARD_URL, desired.CLIENT_ADDRESS)


def _without_ours(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """The cluster without what our patches write or the API server changes on any write
    (resourceVersion, managedFields): equal for two versions that differ only by our patch."""
    meta = dict(cluster.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items()
                           if k not in _OURS}
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != desired.FINALIZER]
    return {**cluster, "metadata": meta}


def _same_record(record: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], bool]:
    """Whether an object is ``record``: a port record is immutable and its data names the
    port, the cluster (with its uid) and the purpose, so equal data is the same holding (a
    previous holder's record of the same port differs)."""
    data = record.get("data")
    return lambda o: o.get("data") == data


def _has_finalizer(cluster: Mapping[str, Any]) -> bool:
    return desired.FINALIZER in ((cluster.get("metadata") or {}).get("finalizers") or [])


def _same(live: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    """Whether the live route already has what we would apply (labels, annotations, spec)."""
    if live is None:
        return False
    lm, wm = live.get("metadata") or {}, wanted.get("metadata") or {}
    for key in ("labels", "annotations"):
        have = lm.get(key) or {}
        if any(have.get(k) != v for k, v in (wm.get(key) or {}).items()):
            return False
    return _subset(wanted.get("spec"), live.get("spec"))


def _subset(want: Any, have: Any) -> bool:
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(_subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and \
            all(_subset(w, h) for w, h in zip(want, have))
    return want == have


class DryRunApi(Api):
    """Reads the cluster, writes nothing: every write is recorded as a line of the plan."""

    def __init__(self, source: Any) -> None:
        super().__init__(source)
        self.planned: list[str] = []

    def create(self, obj: dict[str, Any]) -> bool:
        self._count()
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "Event":
            self.planned.append(f"create {obj.get('kind')} {meta.get('namespace')}/"
                                f"{meta.get('name') or meta.get('generateName')}")
        return True

    def apply(self, obj: dict[str, Any], *, force: bool = False) -> None:
        self._count()
        meta = obj.get("metadata") or {}
        extra = ""
        if obj.get("kind") == "ConfigMap" and "data" in obj:
            extra = " (" + ", ".join(f"{k} -> {v}" for k, v in obj["data"].items()) + ")"
        self.planned.append(f"apply {obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"
                            + extra)

    def merge_patch(self, api_version: str, kind: str, namespace: str, name: str,
                    patch: dict[str, Any]) -> dict[str, Any] | None:
        self._count()
        meta = patch.get("metadata") or {}
        notes = ", ".join(f"{k}={v}" for k, v in (meta.get("annotations") or {}).items())
        self.planned.append(f"annotate {kind} {namespace}/{name}: {notes}"
                            + (" (+finalizer)" if "finalizers" in meta else ""))
        return None

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        self._count()
        self.planned.append(f"delete {kind} {namespace}/{name}")
