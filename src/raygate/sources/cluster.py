"""Read a live cluster into ``KubeObject``s with a bounded number of API requests.

``raygate doctor`` must cost the same on a 5-node lab and a 5,000-node fleet, and must not
hammer a struggling API server while someone is debugging it. So the source makes one
discovery request (``GET /apis`` as an aggregated ``apidiscovery.k8s.io/v2`` document, which
names every served group, version and kind at once), then one paginated LIST per kind,
concurrently, with label selectors where the kind is large and only a few objects matter
(Pods: the ingress-nginx controller and the Ray heads). It never GETs objects one by one.

Custom kinds (KubeRay, Gateway API, the Gateway API implementations' policies) are listed in
the version the cluster serves, found by discovery: TCPRoute is ``v1`` from Gateway API v1.6
and ``v1alpha2`` before, ListenerSet is ``gateway.networking.k8s.io/v1`` from v1.5 and
``XListenerSet`` (``gateway.networking.x-k8s.io/v1alpha1``) in the v1.3/v1.4 experimental
channel. A kind the cluster does not serve is not listed and is recorded in ``not_served``;
doctor reports the rules that concern only such kinds as "not checked (not served)".

The count (``MAX_LISTS`` LISTs at most, one per entry of ``KINDS`` that the cluster serves,
for clusters below ``PAGE_SIZE`` objects per kind, plus discovery) is asserted by the tests
at the fake API server; ``request_count`` says how many a load took. An API server without
aggregated discovery (Kubernetes < 1.26, or with the feature off) answers the legacy group
list; the source then reads the resource list of each group version it may list from
(``MAX_LEGACY_DISCOVERY`` requests at most).

The real lightkube client does the talking (kubeconfig, context, in-cluster service
account, TLS, token refresh). Items are decoded as plain dicts (lightkube generic resources),
not typed models: that keeps the load close to the cost of the LISTs themselves.

A kind the credentials may not list (403) is recorded in ``forbidden`` and the load goes on;
doctor reports the rules that needed it as "not checked (forbidden)". Anything else that
fails (unreachable server, rejected token, bad kubeconfig) is a ``ClusterError`` naming the
server and what failed.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Mapping

from raygate.errors import ClusterError
from raygate.objects import KubeObject, Origin
from raygate.sources import LoadResult, no_cyclic_gc

#: Large pages keep the request count bounded: one LIST per kind for up to this many objects.
PAGE_SIZE = 25_000
#: Labels that select the only Pods doctor looks at.
CONTROLLER_POD_SELECTOR = {"app.kubernetes.io/name": "ingress-nginx"}
RAY_HEAD_POD_SELECTOR = {"ray.io/node-type": "head"}
FIELD_MANAGER = "raygate"
#: How often one LIST starts over after its continue token expired (410 Expired) before the
#: load gives up; each restart costs the pages read so far again.
MAX_RELISTS = 3
#: ``GET /apis`` asks for the aggregated discovery document first (Kubernetes 1.30+: v2,
#: 1.26-1.29: v2beta1), the legacy ``APIGroupList`` last; the server answers with the first it
#: serves and says which in Content-Type (client-go ``discovery/aggregated_discovery.go``).
DISCOVERY_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                    "application/json")


@dataclass(frozen=True)
class KindSpec:
    """One kind the source lists: where it lives and how it is filtered."""

    kind: str
    group: str
    #: Versions in order of preference; for custom kinds, the first the cluster serves is
    #: listed (another served version of the kind when none of these is).
    versions: tuple[str, ...]
    plural: str
    namespaced: bool
    labels: Mapping[str, str] | None = None
    #: Only listed when discovery shows the cluster serves the kind (CRDs).
    optional: bool = False
    #: Kinds of one slot stand in for each other: only the first served one is listed
    #: (ListenerSet v1 from Gateway API v1.5, XListenerSet in the experimental channel before).
    slot: str | None = None


def _plural(kind: str) -> str:
    low = kind.lower()
    return low[:-1] + "ies" if low.endswith("y") else low + "s"


def _policy_kinds() -> tuple[KindSpec, ...]:
    """The implementation policies the rules read, from the implementation profiles."""
    from raygate.backends.gateway_api.implementations import IMPLEMENTATIONS
    return tuple(KindSpec(kind, impl.policy_group, ("v1alpha1",), _plural(kind), True,
                          optional=True)
                 for impl in IMPLEMENTATIONS if impl.policy_group
                 for kind in impl.policy_kinds)


_GW = "gateway.networking.k8s.io"
_GWX = "gateway.networking.x-k8s.io"

KINDS: tuple[KindSpec, ...] = (
    KindSpec("Node", "", ("v1",), "nodes", False),
    KindSpec("Pod", "", ("v1",), "pods", True, CONTROLLER_POD_SELECTOR),
    KindSpec("Pod", "", ("v1",), "pods", True, RAY_HEAD_POD_SELECTOR),
    KindSpec("Service", "", ("v1",), "services", True),
    KindSpec("EndpointSlice", "discovery.k8s.io", ("v1",), "endpointslices", True),
    KindSpec("ConfigMap", "", ("v1",), "configmaps", True),
    KindSpec("Deployment", "apps", ("v1",), "deployments", True),
    KindSpec("DaemonSet", "apps", ("v1",), "daemonsets", True),
    KindSpec("Ingress", "networking.k8s.io", ("v1",), "ingresses", True),
    KindSpec("IngressClass", "networking.k8s.io", ("v1",), "ingressclasses", False),
    KindSpec("RayCluster", "ray.io", ("v1",), "rayclusters", True, optional=True),
    KindSpec("RayService", "ray.io", ("v1",), "rayservices", True, optional=True),
    # Gateway API: every kind the rules read (backends/gateway_api: GatewayClass for the
    # implementation, Gateways and ListenerSets for listeners, every route kind but UDPRoute
    # (no Ray port is UDP), ReferenceGrants for cross-namespace references).
    KindSpec("GatewayClass", _GW, ("v1", "v1beta1"), "gatewayclasses", False, optional=True),
    KindSpec("Gateway", _GW, ("v1", "v1beta1"), "gateways", True, optional=True),
    KindSpec("ListenerSet", _GW, ("v1",), "listenersets", True, optional=True,
             slot="ListenerSet"),
    KindSpec("XListenerSet", _GWX, ("v1alpha1",), "xlistenersets", True, optional=True,
             slot="ListenerSet"),
    KindSpec("HTTPRoute", _GW, ("v1", "v1beta1"), "httproutes", True, optional=True),
    KindSpec("GRPCRoute", _GW, ("v1", "v1alpha2"), "grpcroutes", True, optional=True),
    # v1 from Gateway API v1.6 (whose standard CRD no longer serves v1alpha2), v1alpha2 in the
    # experimental channel before; one CRD's versions are views of the same objects.
    KindSpec("TCPRoute", _GW, ("v1", "v1alpha2"), "tcproutes", True, optional=True),
    KindSpec("TLSRoute", _GW, ("v1", "v1alpha3", "v1alpha2"), "tlsroutes", True, optional=True),
    KindSpec("ReferenceGrant", _GW, ("v1", "v1beta1"), "referencegrants", True, optional=True),
) + _policy_kinds()

def live_kinds() -> tuple[str, ...]:
    """Every kind a live read lists when the cluster serves it, once each."""
    return tuple(dict.fromkeys(k.kind for k in KINDS))


#: At most this many LISTs per load (one per slot of ``KINDS``), below ``PAGE_SIZE`` objects
#: per kind; the tests count them at the fake API server.
MAX_LISTS = len({k.slot or i for i, k in enumerate(KINDS)})
#: Legacy discovery (no aggregated document): ``GET /apis`` plus one resource list per group
#: version a custom kind may be listed from.
MAX_LEGACY_DISCOVERY = 1 + len({(k.group, v) for k in KINDS if k.optional for v in k.versions})
#: The request budget of one ``load()`` with aggregated discovery (Kubernetes >= 1.26).
MAX_REQUESTS = 1 + MAX_LISTS


@dataclass
class Discovery:
    """What the cluster serves, from discovery."""

    #: API group -> served versions (preferred first); core ("") is always there.
    groups: dict[str, list[str]]
    #: (group, kind) -> {version: (plural, namespaced)}, in the server's order; None when
    #: the server did not say which kinds each version serves (discovery forbidden).
    kinds: dict[tuple[str, str], dict[str, tuple[str, bool]]] | None
    #: "aggregated", "legacy" or "forbidden".
    mode: str


@functools.lru_cache(maxsize=None)
def resource_class(group: str, version: str, kind: str, plural: str, namespaced: bool) -> Any:
    """A lightkube generic resource class (plain-dict objects), not added to lightkube's
    global registry so it never clashes with typed models other code may load. One class per
    kind (made once: the operator asks for one on every write)."""
    from lightkube.generic_resource import (GenericGlobalResource, GenericNamespacedResource,
                                            create_api_info)
    base = GenericNamespacedResource if namespaced else GenericGlobalResource
    return type(kind, (base,), {"_api_info": create_api_info(group, version, kind, plural)})


class ClusterSource:
    """A live cluster, reached through a kubeconfig (or the in-cluster service account)."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 namespace: str | None = None, *, timeout: float = 10.0,
                 page_size: int = PAGE_SIZE, workers: int = 8) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        #: When set, namespaced kinds are listed in this namespace only (namespace-scoped RBAC).
        self.namespace = namespace
        self.timeout = timeout
        self.page_size = page_size
        self.workers = workers
        #: kind -> the API server's 403 message, for kinds these credentials may not list.
        self.forbidden: dict[str, str] = {}
        #: Custom kinds this cluster does not serve (no KubeRay, no Gateway API, no
        #: ListenerSet CRD...) -> why; they are not listed.
        self.not_served: dict[str, str] = {}
        self._requests = 0
        self._lock = threading.Lock()
        self._client: Any = None
        self._config: Any = None
        self._discovered: Discovery | None = None
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}
        #: group version -> kind -> (plural, namespaced), from its own discovery document.
        self._group_versions: dict[str, dict[str, tuple[str, bool]]] = {}

    # ------------------------------------------------------------------ connection

    @property
    def client(self) -> Any:
        """The lightkube ``Client`` (created on first use; ``apply`` shares it)."""
        if self._client is None:
            import httpx2
            from lightkube import Client
            self._client = Client(self.config, timeout=httpx2.Timeout(self.timeout),
                                  trust_env=False)
            # Count every request this source makes (the bounded-LIST contract).
            http = self._client._client._client
            hooks = http.event_hooks
            hooks["request"] = [*hooks.get("request", []), self._count]
            http.event_hooks = hooks
        return self._client

    @property
    def config(self) -> Any:
        if self._config is None:
            from lightkube import KubeConfig
            try:
                if self.kubeconfig:
                    kc = KubeConfig.from_file(self.kubeconfig)
                elif os.environ.get("KUBECONFIG"):
                    first = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
                    kc = KubeConfig.from_file(first[0]) if first else KubeConfig.from_env()
                else:
                    kc = KubeConfig.from_env()
                self._config = kc.get(context_name=self.context)
            except Exception as e:
                # lightkube lets PyYAML and dict errors through: turn every one into a single
                # line that names the file, never a multi-line YAML dump or a traceback.
                where = self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
                raise ClusterError(f"kubeconfig {where}: {_kubeconfig_problem(e)}") from None
        return self._config

    @property
    def server(self) -> str:
        return str(self.config.cluster.server)

    @property
    def context_name(self) -> str:
        return str(self.config.context_name)

    @property
    def request_count(self) -> int:
        return self._requests

    def _count(self, request: Any) -> None:
        with self._lock:
            self._requests += 1

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> "ClusterSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ errors

    def error(self, e: BaseException, what: str) -> ClusterError:
        """A one-line ``ClusterError`` for a lightkube/httpx failure while doing ``what``."""
        import httpx2
        from lightkube.core.exceptions import ApiError, ConfigError
        server = self.server if self._config is not None else "the Kubernetes API"
        if isinstance(e, ApiError):
            code, reason = e.status.code, e.status.reason
            if code == 401:
                return ClusterError(f"{server}: {what}: 401 Unauthorized (the credentials of "
                                    f"context {self.context_name!r} were rejected)")
            err = ClusterError(f"{server}: {what}: {code} {reason or ''}: {e.status.message}")
            # Callers tell RBAC refusals ("not checked (forbidden)") from real failures.
            err.status_code = code  # type: ignore[attr-defined]
            err.status_message = str(e.status.message)  # type: ignore[attr-defined]
            return err
        if isinstance(e, httpx2.HTTPStatusError):
            code = e.response.status_code
            text = e.response.text.strip().splitlines()[0][:200] if e.response.text.strip() else ""
            if code == 401:
                return ClusterError(f"{server}: {what}: 401 Unauthorized (the credentials of "
                                    f"context {self.context_name!r} were rejected)")
            return ClusterError(f"{server}: {what}: HTTP {code} {text}".rstrip())
        if isinstance(e, httpx2.ConnectError):
            detail = "connection refused" if "refused" in str(e).lower() else str(e)
            return ClusterError(f"cannot reach the Kubernetes API at {server} ({what}): {detail}")
        if isinstance(e, httpx2.TimeoutException):
            return ClusterError(f"{server}: {what}: timed out after {self.timeout:g}s")
        if isinstance(e, httpx2.HTTPError):
            return ClusterError(f"{server}: {what}: {type(e).__name__}: {e}")
        if isinstance(e, ConfigError):
            return ClusterError(f"kubeconfig: {e}")
        return ClusterError(f"{server}: {what}: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ discovery

    def _get_json(self, path: str, what: str) -> Any:
        import httpx2
        try:
            resp = self.client._client._client.get(path)
            resp.raise_for_status()
            return json.loads(resp.content)
        except (httpx2.HTTPError, ValueError) as e:
            if isinstance(e, ValueError):
                raise ClusterError(f"{self.server}: {what}: the answer is not JSON") from None
            raise self.error(e, what) from None

    def discover(self) -> dict[str, list[str]]:
        """API group -> served versions (core is always there)."""
        return self.discovery().groups

    def discovery(self) -> Discovery:
        """What the cluster serves: one aggregated ``GET /apis``; on a server without
        aggregated discovery, the legacy group list plus the resource list of each group
        version a custom kind may be listed from."""
        if self._discovered is None:
            import httpx2
            try:
                resp = self.client._client._client.get("/apis", headers={"Accept": DISCOVERY_ACCEPT})
                if resp.status_code == 403:
                    # Discovery is normally open to every authenticated user; without it,
                    # assume the custom kinds are served and let their LISTs decide (404).
                    groups: dict[str, list[str]] = {"": ["v1"]}
                    for spec in KINDS:
                        have = groups.setdefault(spec.group, [])
                        have += [v for v in spec.versions if v not in have]
                    self._discovered = Discovery(groups, None, "forbidden")
                    return self._discovered
                resp.raise_for_status()
                doc = json.loads(resp.content)
            except httpx2.HTTPError as e:
                raise self.error(e, "discovery (GET /apis)") from None
            except ValueError:
                raise ClusterError(f"{self.server}: discovery (GET /apis): the answer is not JSON") from None
            if not isinstance(doc, dict):
                raise ClusterError(f"{self.server}: discovery (GET /apis): not a discovery document")
            if "as=APIGroupDiscoveryList" in resp.headers.get("content-type", "").replace(" ", ""):
                self._discovered = _aggregated(doc)
            else:
                self._discovered = self._legacy(doc)
        return self._discovered

    def _legacy(self, doc: Mapping[str, Any]) -> Discovery:
        """Discovery from an ``APIGroupList`` and one ``APIResourceList`` per group version
        that ``KINDS`` may list a custom kind from (read concurrently)."""
        import httpx2
        groups: dict[str, list[str]] = {"": ["v1"]}
        for g in doc.get("groups") or []:
            if isinstance(g, dict):
                groups[str(g.get("name", ""))] = [str(v.get("version")) for v in g.get("versions") or []
                                                  if isinstance(v, dict)]
        wanted = list(dict.fromkeys((k.group, v) for k in KINDS if k.optional for v in k.versions
                                    if v in groups.get(k.group, [])))

        def read(gv: tuple[str, str]) -> tuple[tuple[str, str], Any]:
            what = f"discovery of {gv[0]}/{gv[1]}"
            try:
                resp = self.client._client._client.get(f"/apis/{gv[0]}/{gv[1]}")
                if resp.status_code in (403, 404):
                    return gv, None  # not told: the LISTs decide
                resp.raise_for_status()
                return gv, json.loads(resp.content)
            except httpx2.HTTPError as e:
                raise self.error(e, what) from None
            except ValueError:
                raise ClusterError(f"{self.server}: {what}: the answer is not JSON") from None

        kinds: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
        told = True
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(wanted) or 1))) as pool:
            for (group, version), rl in pool.map(read, wanted):
                if not isinstance(rl, dict):
                    told = False
                    continue
                resources = _resources_of(rl)
                # Kept for ``serves`` and ``resource_type``: apply asks again, at no cost.
                self._group_versions[f"{group}/{version}"] = resources
                for kind, plural_scope in resources.items():
                    kinds.setdefault((group, kind), {})[version] = plural_scope
        return Discovery(groups, kinds if told else None, "legacy")

    def resource_type(self, api_version: str, kind: str) -> tuple[str, bool]:
        """``(plural, namespaced)`` of a kind, from the group version's discovery document
        (one request per group version, cached); for ``apply`` and ``dry_run``."""
        key = (api_version, kind)
        if key not in self._resources and self.serves(api_version, kind) is False:
            # Discovery named every served kind: say so instead of the bare 404 a request
            # would get.
            group = api_version.rpartition("/")[0]
            served = sorted((self.discovery().kinds or {}).get((group, kind), {}))
            raise ClusterError(f"{self.server}: the cluster does not serve {kind} in "
                               f"{api_version}" + (f" (it serves {', '.join(served)})" if served
                                                   else " (is its CRD installed?)"))
        if key not in self._resources:
            for spec in KINDS:
                if spec.kind == kind and api_version in {_gv(spec.group, v) for v in spec.versions}:
                    self._resources[key] = (spec.plural, spec.namespaced)
                    break
            else:
                found = self._group_version(api_version).get(kind)
                if found is None:
                    raise ClusterError(f"{self.server}: the API has no kind {kind} in {api_version} "
                                       "(is the CRD installed?)")
                self._resources[key] = found
        return self._resources[key]

    def serves(self, api_version: str, kind: str) -> bool | None:
        """Does the cluster serve ``kind`` in ``api_version``? A group serves several versions,
        each with its own kinds (TCPRoute is v1 only from Gateway API v1.6). From the aggregated
        discovery document when the server gives one (no request); otherwise from the group
        version's own document (one request per group version, cached). None for core kinds
        and when discovery is forbidden: then the request itself decides."""
        group, _, version = api_version.rpartition("/")
        if not group:
            return None
        found = self.discovery()
        if found.mode == "aggregated" and found.kinds is not None:
            return version in found.kinds.get((group, kind), {})
        if found.mode == "forbidden":
            return None
        if version not in found.groups.get(group, []):
            return False
        return kind in self._group_version(api_version)

    def _group_version(self, api_version: str) -> dict[str, tuple[str, bool]]:
        """Kind -> ``(plural, namespaced)`` from one group version's own discovery document
        (one request per group version, cached): for kinds outside ``KINDS`` and for servers
        without aggregated discovery."""
        with self._lock:
            cached = self._group_versions.get(api_version)
        if cached is None:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            doc = self._get_json(path, f"discovery of {api_version}")
            cached = _resources_of(doc)
            with self._lock:
                self._group_versions[api_version] = cached
        return cached

    def resource_for(self, obj: Mapping[str, Any]) -> Any:
        """The lightkube generic resource class for an object dict."""
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        plural, namespaced = self.resource_type(api_version, kind)
        group, _, version = api_version.rpartition("/")
        return resource_class(group, version, kind, plural, namespaced)

    # ------------------------------------------------------------------ load

    def plan(self) -> list[tuple[KindSpec, str]]:
        """The LISTs ``load()`` will make: (kind, version), after discovery. A custom kind is
        listed in the first of its versions the cluster serves (with the plural and scope
        discovery gives); one the cluster does not serve is recorded in ``not_served``."""
        found = self.discovery()
        planned: list[tuple[KindSpec, str]] = []
        self.not_served = {}
        taken: set[str] = set()
        for spec in KINDS:
            if not spec.optional:
                planned.append((spec, spec.versions[0]))
                continue
            if spec.slot is not None and spec.slot in taken:
                continue
            chosen = _served_version(spec, found)
            if chosen is None:
                self.not_served[spec.kind] = _not_served_reason(spec, found)
                continue
            if spec.slot is not None:
                taken.add(spec.slot)
            planned.append(chosen)
        return planned

    def served_versions(self) -> dict[str, tuple[str, ...]]:
        """Custom kind -> the versions the cluster serves it in (discovery's order), for the
        kinds of ``KINDS``; empty when discovery did not say (forbidden)."""
        found = self.discovery()
        if found.kinds is None:
            return {}
        return {spec.kind: tuple(found.kinds[(spec.group, spec.kind)]) for spec in KINDS
                if spec.optional and found.kinds.get((spec.group, spec.kind))}

    def load(self) -> LoadResult:
        """Every kind doctor needs, as ``KubeObject``s (one paginated LIST per kind)."""
        with no_cyclic_gc():
            return self._load()

    def _load(self) -> LoadResult:
        self.forbidden = {}
        planned = self.plan()
        origin_file = f"cluster:{self.context_name}"
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(planned)))) as pool:
            results = list(pool.map(self._list_kind, planned))
        result = LoadResult(files=[origin_file])
        seen: set[str] = set()
        listed_slots: set[str] = set()
        for (spec, version), got in zip(planned, results):
            if got is None:
                continue
            items, version = got
            if spec.slot is not None:
                listed_slots.add(spec.slot)
            api_version = _gv(spec.group, version)
            for item in items:
                meta = item.get("metadata") or {}
                uid = meta.get("uid")
                if uid and spec.labels is not None:
                    if uid in seen:  # a Pod matched by both selectors
                        continue
                    seen.add(uid)
                item.setdefault("kind", spec.kind)
                item.setdefault("apiVersion", api_version)
                origin = Origin(origin_file, uid=uid, resource_version=meta.get("resourceVersion"))
                if item["kind"] == spec.kind and item["apiVersion"] == api_version:
                    result.objects.append(KubeObject.listed(item, origin, spec.kind, api_version))
                else:
                    result.objects.append(KubeObject(item, origin))
        for spec in KINDS:
            reason = self.not_served.get(spec.kind)
            if reason is not None and (spec.slot is None or spec.slot not in listed_slots):
                result.notices.append(f"{origin_file}: {spec.kind} not checked (not served): "
                                      f"{reason}")
        for kind, reason in sorted(self.forbidden.items()):
            result.notices.append(f"{origin_file}: {kind} not checked (forbidden): {reason}")
        return result

    def _list_kind(self, planned: tuple[KindSpec, str]) -> tuple[list[dict[str, Any]], str] | None:
        """One paginated LIST, through lightkube's configured HTTP client (auth, TLS, server
        from the kubeconfig), decoded straight to dicts: lightkube's per-item wrapping cost
        more than the request itself on large clusters, and doctor wants plain dicts.
        Returns the items and the version they were listed in; None when forbidden or not
        served."""
        import httpx2
        from lightkube.core.selector import build_selector
        spec, version = planned
        prefix = "/api/v1" if not spec.group else f"/apis/{spec.group}/{version}"
        path = f"{prefix}/{spec.plural}"
        if spec.namespaced and self.namespace:
            path = f"{prefix}/namespaces/{self.namespace}/{spec.plural}"
        params: dict[str, str] = {"limit": str(self.page_size)}
        if spec.labels:
            params["labelSelector"] = build_selector(dict(spec.labels))
        http = self.client._client._client
        items: list[dict[str, Any]] = []
        restarts = 0
        try:
            while True:
                resp = http.get(path, params=params)
                if resp.status_code == 403:
                    self.forbidden.setdefault(spec.kind, _status_message(resp) or "forbidden")
                    return None
                if resp.status_code == 404 and spec.optional and not items:
                    # Only when discovery could not say which versions serve the kind
                    # (discovery forbidden): try the next version the group may serve.
                    later = _next_version(spec, version, self.discovery())
                    if later is not None:
                        return self._list_kind((spec, later))
                    self.not_served[spec.kind] = (f"the API server has no {spec.plural} in "
                                                  f"{_gv(spec.group, version)} (404)")
                    return None
                if resp.status_code == 410 and "continue" in params and restarts < MAX_RELISTS:
                    # The continue token expired (etcd compacted the snapshot it read from,
                    # every 5 minutes by default): the pages read so far and the rest would
                    # not be one consistent list, so start the LIST over (what client-go's
                    # pager does on "Expired"). Costs one more round of pages.
                    restarts += 1
                    items = []
                    params.pop("continue")
                    continue
                resp.raise_for_status()
                page = json.loads(resp.content)
                items.extend(page.get("items") or [])
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    return items, version
                params["continue"] = token
        except httpx2.HTTPError as e:
            raise self.error(e, f"LIST {spec.plural}") from None
        except ValueError:
            raise ClusterError(f"{self.server}: LIST {spec.plural}: the answer is not JSON") from None

    # ------------------------------------------------------------------ helpers for doctor

    def dry_run(self, obj: Mapping[str, Any]) -> str | None:
        """Server-side apply ``obj`` with ``dryRun=All``: the admission webhooks and validation
        run, nothing is stored. Returns the API server's denial message, or None if admitted."""
        from lightkube.core.exceptions import ApiError
        import httpx2
        res = self.resource_for(obj)
        body = res(dict(obj))
        meta = obj.get("metadata") or {}
        try:
            self.client.apply(body, namespace=meta.get("namespace") if _is_namespaced(res) else None,
                              field_manager=FIELD_MANAGER, force=True, dry_run=True)
        except ApiError as e:
            if e.status.code in (400, 409, 422):
                return str(e.status.message)
            raise self.error(e, f"dry-run of {obj.get('kind')}/{meta.get('name')}") from None
        except httpx2.HTTPError as e:
            raise self.error(e, f"dry-run of {obj.get('kind')}/{meta.get('name')}") from None
        return None

    def pod_logs(self, namespace: str, pod: str, tail: int = 200,
                 container: str | None = None) -> str:
        """The last ``tail`` lines of a Pod's log (one request)."""
        import httpx2
        try:
            return "".join(self.client.log(pod, namespace=namespace, tail_lines=tail,
                                           container=container))
        except httpx2.HTTPError as e:
            raise self.error(e, f"logs of pod {namespace}/{pod}") from None


def _resources_of(resource_list: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    """Kind -> ``(plural, namespaced)`` of an ``APIResourceList`` (subresources left out)."""
    return {str(r.get("kind")): (r["name"], bool(r.get("namespaced")))
            for r in resource_list.get("resources") or []
            if isinstance(r, dict) and isinstance(r.get("name"), str) and "/" not in r["name"]}


def _aggregated(doc: Mapping[str, Any]) -> Discovery:
    """Discovery from an ``apidiscovery.k8s.io`` ``APIGroupDiscoveryList`` (v2 or v2beta1:
    ``staging/src/k8s.io/api/apidiscovery/v2/types.go``; ``metadata.name`` is the group,
    ``versions[]`` in preference order, ``resources[]`` with ``resource``, ``responseKind``
    and ``scope``)."""
    groups: dict[str, list[str]] = {"": ["v1"]}
    kinds: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
    for item in doc.get("items") or []:
        if not isinstance(item, dict):
            continue
        group = str((item.get("metadata") or {}).get("name") or "")
        versions = [v for v in item.get("versions") or [] if isinstance(v, dict)]
        groups[group] = [str(v.get("version")) for v in versions]
        for v in versions:
            for r in v.get("resources") or []:
                kind = (r.get("responseKind") or {}).get("kind") if isinstance(r, dict) else None
                if isinstance(kind, str) and isinstance(r.get("resource"), str):
                    kinds.setdefault((group, kind), {})[str(v.get("version"))] = (
                        r["resource"], r.get("scope") == "Namespaced")
    return Discovery(groups, kinds, "aggregated")


def _served_version(spec: KindSpec, found: Discovery) -> tuple[KindSpec, str] | None:
    """The version to list ``spec`` in, with the plural and scope discovery gives; None when
    the cluster does not serve the kind."""
    if found.kinds is None:  # not told which kinds each version serves: the group decides
        served = found.groups.get(spec.group, [])
        version = next((v for v in spec.versions if v in served), None)
        return (spec, version) if version is not None else None
    versions = found.kinds.get((spec.group, spec.kind))
    if not versions:
        return None
    version = next((v for v in spec.versions if v in versions), next(iter(versions)))
    plural, namespaced = versions[version]
    return replace(spec, plural=plural, namespaced=namespaced), version


def _next_version(spec: KindSpec, version: str, found: Discovery) -> str | None:
    """After a 404 on ``version``: the next of ``spec.versions`` the group serves, when
    discovery could not say which versions serve the kind (otherwise there is none to try)."""
    if found.kinds is not None or version not in spec.versions:
        return None
    served = found.groups.get(spec.group, [])
    rest = spec.versions[spec.versions.index(version) + 1:]
    return next((v for v in rest if v in served), None)


def _not_served_reason(spec: KindSpec, found: Discovery) -> str:
    if spec.group not in found.groups:
        return f"this cluster does not serve the API group {spec.group} (no CRD installed)"
    return (f"this cluster serves {spec.group} ({', '.join(found.groups[spec.group])}) but no "
            f"{spec.kind} in it (its CRD is not installed)")


def _kubeconfig_problem(e: Exception) -> str:
    """What is wrong with a kubeconfig, in one line."""
    import yaml
    from lightkube.core.exceptions import ConfigError
    if isinstance(e, ConfigError):
        return str(e)
    if isinstance(e, yaml.YAMLError):
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        return f"invalid YAML{where}: {problem}"
    if isinstance(e, KeyError):
        return f"not a valid kubeconfig: no {e.args[0]!r} entry"
    if isinstance(e, (AttributeError, TypeError)):
        return "not a valid kubeconfig: expected a Config mapping with clusters, users and contexts"
    if isinstance(e, OSError):
        return f"cannot be read ({e.strerror or e})"
    return f"cannot be read ({type(e).__name__}: {e})"


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _is_namespaced(res: Any) -> bool:
    from lightkube.core import resource as r
    return issubclass(res, r.NamespacedResource)


def _status_message(resp: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` answer, else the start of the body."""
    try:
        return str(json.loads(resp.content).get("message") or "")
    except (ValueError, AttributeError):
        return resp.text.strip()[:200]
