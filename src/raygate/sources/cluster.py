"""Read a live cluster into ``KubeObject``s with a bounded number of API requests.

``raygate doctor`` must cost the same on a 5-node lab and a 5,000-node fleet, and must not
hammer a struggling API server while someone is debugging it. So the source makes one
discovery request (``/apis``, to learn whether KubeRay and Gateway API are installed), then
one paginated LIST per kind, concurrently, with label selectors where the kind is large and
only a few objects matter (Pods: the ingress-nginx controller and the Ray heads). It never
GETs objects one by one: the whole read is at most ``MAX_REQUESTS`` requests for any
cluster below ``PAGE_SIZE`` objects per kind, and ``request_count`` says how many it took.

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
from dataclasses import dataclass
from typing import Any, Mapping

from raygate.errors import ClusterError
from raygate.objects import KubeObject, Origin
from raygate.sources import LoadResult, no_cyclic_gc

#: Large pages keep the request count bounded: one LIST per kind for up to this many objects.
PAGE_SIZE = 25_000
#: The request budget of one ``load()`` (discovery + LISTs), asserted by tests and the bench.
MAX_REQUESTS = 20
#: Labels that select the only Pods doctor looks at.
CONTROLLER_POD_SELECTOR = {"app.kubernetes.io/name": "ingress-nginx"}
RAY_HEAD_POD_SELECTOR = {"ray.io/node-type": "head"}
FIELD_MANAGER = "raygate"
#: How often one LIST starts over after its continue token expired (410 Expired) before the
#: load gives up; each restart costs the pages read so far again.
MAX_RELISTS = 3


@dataclass(frozen=True)
class KindSpec:
    """One kind the source lists: where it lives and how it is filtered."""

    kind: str
    group: str
    versions: tuple[str, ...]
    plural: str
    namespaced: bool
    labels: Mapping[str, str] | None = None
    #: Only listed when discovery shows the group (CRDs: KubeRay, Gateway API).
    optional: bool = False


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
    KindSpec("ValidatingWebhookConfiguration", "admissionregistration.k8s.io", ("v1",),
             "validatingwebhookconfigurations", False),
    KindSpec("RayCluster", "ray.io", ("v1",), "rayclusters", True, optional=True),
    KindSpec("RayService", "ray.io", ("v1",), "rayservices", True, optional=True),
    KindSpec("GatewayClass", "gateway.networking.k8s.io", ("v1", "v1beta1"), "gatewayclasses",
             False, optional=True),
    KindSpec("Gateway", "gateway.networking.k8s.io", ("v1", "v1beta1"), "gateways", True,
             optional=True),
    KindSpec("HTTPRoute", "gateway.networking.k8s.io", ("v1", "v1beta1"), "httproutes", True,
             optional=True),
    # v1alpha2 up to Gateway API v1.5 (and still in v1.6's experimental channel), v1 from v1.6,
    # whose standard CRD no longer serves v1alpha2: a 404 on the first falls back to the next.
    KindSpec("TCPRoute", "gateway.networking.k8s.io", ("v1alpha2", "v1"), "tcproutes", True,
             optional=True),
)


def _later_served(spec: KindSpec, version: str, groups: Mapping[str, list[str]]) -> str | None:
    """The next of ``spec.versions`` after ``version`` that the group serves, if any."""
    served = groups.get(spec.group, [])
    rest = list(spec.versions)[list(spec.versions).index(version) + 1:] \
        if version in spec.versions else []
    return next((v for v in rest if v in served), None)


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
        #: Optional kinds whose API group is not installed (no KubeRay, no Gateway API).
        self.not_installed: list[str] = []
        self._requests = 0
        self._lock = threading.Lock()
        self._client: Any = None
        self._config: Any = None
        self._discovered: dict[str, list[str]] | None = None
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}
        #: group version -> the kinds its discovery document lists (``serves``).
        self._served: dict[str, frozenset[str]] = {}

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
        """API group -> served versions, from one ``GET /apis`` (core is always there)."""
        if self._discovered is None:
            import httpx2
            try:
                resp = self.client._client._client.get("/apis")
                if resp.status_code == 403:
                    # Discovery is normally open to every authenticated user; without it,
                    # assume the optional groups are installed and let their LISTs decide.
                    self._discovered = {s.group: list(s.versions) for s in KINDS}
                    return self._discovered
                resp.raise_for_status()
                doc = json.loads(resp.content)
            except httpx2.HTTPError as e:
                raise self.error(e, "discovery (GET /apis)") from None
            except ValueError:
                raise ClusterError(f"{self.server}: discovery (GET /apis): the answer is not JSON") from None
            groups: dict[str, list[str]] = {"": ["v1"]}
            for g in doc.get("groups") or []:
                groups[g.get("name", "")] = [v.get("version") for v in g.get("versions") or []]
            self._discovered = groups
        return self._discovered

    def resource_type(self, api_version: str, kind: str) -> tuple[str, bool]:
        """``(plural, namespaced)`` of a kind, from the group version's discovery document
        (one request per group version, cached); for ``apply`` and ``dry_run``."""
        key = (api_version, kind)
        if key not in self._resources:
            for spec in KINDS:
                if spec.kind == kind and api_version in {_gv(spec.group, v) for v in spec.versions}:
                    self._resources[key] = (spec.plural, spec.namespaced)
                    break
            else:
                path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
                doc = self._get_json(path, f"discovery of {api_version}")
                for r in doc.get("resources") or []:
                    if "/" not in r.get("name", ""):
                        self._resources[(api_version, r.get("kind"))] = (r["name"], bool(r.get("namespaced")))
                if key not in self._resources:
                    raise ClusterError(f"{self.server}: the API has no kind {kind} in {api_version} "
                                       "(is the CRD installed?)")
        return self._resources[key]

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the server serves ``kind`` at ``api_version``, from the group version's own
        discovery document (cached; a group serves several versions, each with its own kinds:
        TCPRoute is v1 only from Gateway API v1.6). False when the group version is not served."""
        if api_version not in self._served:
            group, _, version = api_version.rpartition("/")
            if version not in self.discover().get(group, []):
                self._served[api_version] = frozenset()
            else:
                path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
                doc = self._get_json(path, f"discovery of {api_version}")
                self._served[api_version] = frozenset(
                    r.get("kind") for r in doc.get("resources") or []
                    if "/" not in r.get("name", ""))
        return kind in self._served[api_version]

    def resource_for(self, obj: Mapping[str, Any]) -> Any:
        """The lightkube generic resource class for an object dict."""
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        plural, namespaced = self.resource_type(api_version, kind)
        group, _, version = api_version.rpartition("/")
        return resource_class(group, version, kind, plural, namespaced)

    # ------------------------------------------------------------------ load

    def plan(self) -> list[tuple[KindSpec, str]]:
        """The LISTs ``load()`` will make: (kind, version), after discovery."""
        groups = self.discover()
        planned: list[tuple[KindSpec, str]] = []
        self.not_installed = []
        for spec in KINDS:
            served = groups.get(spec.group, [])
            version = next((v for v in spec.versions if v in served), None)
            if version is None:
                if spec.optional:
                    if spec.kind not in self.not_installed:
                        self.not_installed.append(spec.kind)
                    continue
                version = spec.versions[0]
            planned.append((spec, version))
        return planned

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
        for (spec, version), items in zip(planned, results):
            if items is None:
                continue
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
        for kind in self.not_installed:
            result.notices.append(f"{origin_file}: {kind} not listed: its API group is not "
                                  "installed in this cluster")
        for kind, reason in sorted(self.forbidden.items()):
            result.notices.append(f"{origin_file}: {kind} not checked (forbidden): {reason}")
        return result

    def _list_kind(self, planned: tuple[KindSpec, str]) -> list[dict[str, Any]] | None:
        """One paginated LIST, through lightkube's configured HTTP client (auth, TLS, server
        from the kubeconfig), decoded straight to dicts: lightkube's per-item wrapping cost
        more than the request itself on large clusters, and doctor wants plain dicts."""
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
                if resp.status_code == 404 and spec.optional:
                    later = _later_served(spec, version, self.discover())
                    if later is not None and not items:
                        # The group serves a later version, and this kind may be only there.
                        return self._list_kind((spec, later))
                    self.not_installed.append(spec.kind)
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
                    return items
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
