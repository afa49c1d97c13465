"""The same exposure as Gateway API objects: a Gateway, HTTPRoutes and TCPRoutes.

ingress-nginx was retired in March 2026; Gateway API is where the ecosystem went. The objects
here express what ``ingress_nginx_manifests.py`` expresses, with the differences that the API forces:

* the ``/ray`` -> ``/ray/`` redirect and the prefix strip are two HTTPRoute rules (a redirect
  and a rewrite may not share a rule, and ``ReplacePrefixMatch`` needs exactly one
  ``PathPrefix`` match; facts: ``gateway_api_metallb.md`` §2);
* raw TCP is one TCP listener plus one TCPRoute per port (TCPRoute has no match fields, and
  only the oldest route on a listener is attached; §3);
* placement is a LoadBalancer Service that the implementation creates, so MetalLB is asked
  through ``spec.infrastructure.annotations`` (never ``spec.addresses``, which Envoy Gateway
  and NGINX Gateway Fabric turn into ``externalIPs``; §6.5, §7);
* body size and most timeouts have no core field: with ``gatewayApi.implementation`` set, the
  implementation's own policies are rendered (Envoy Gateway ClientTrafficPolicy and
  BackendTrafficPolicy, never its request buffer, which turns the log tail's WebSocket off;
  NGINX Gateway Fabric ClientSettingsPolicy and ProxySettingsPolicy, and no HTTPRoute
  ``timeouts`` there, which it ignores with ``UnsupportedField``); otherwise (``generic``)
  ``raygate.render.build`` says so on stderr rather than inventing a vendor policy. Profiles:
  ``raygate.backends.gateway_api.implementations``;
* TCPRoute's apiVersion follows the installed CRDs (v1 from Gateway API v1.6, v1alpha2
  before; ``tcp_route_version``); attaching to a shared Gateway reuses its matching listeners
  and adds the missing ones through a ListenerSet when the Gateway allows it (a Gateway holds at
  most 64 listeners; ``raygate.backends.gateway_api.api``).

Each function returns plain dicts; order and comments are ``raygate.render``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from raygate.backends import ingress_nginx as nginx
from raygate.backends.gateway_api import api, implementations, parity, routing, units
from raygate.backends.gateway_api.implementations import Implementation
from raygate.errors import RenderError
from raygate.objects import KubeObject, ObjectSet, matches_label_selector
from raygate.render import RenderedObject, metallb
from raygate.render.ingress_nginx_manifests import IGNORE_ANNOTATION, Target, labels, tcp_mappings
from raygate.spec import GatewaySpec

GROUP = "gateway.networking.k8s.io"
API_V1 = f"{GROUP}/v1"
#: ReferenceGrant v1beta1 is served by every CRD bundle from v0.6 to v1.6 (§1.2); v1 only
#: from v1.5. The portable choice.
REFERENCE_GRANT_API = f"{GROUP}/v1beta1"


# ---------------------------------------------------------------------------------------------
# Names and namespaces


@dataclass(frozen=True)
class Layout:
    """Where each object lives and what it is called, resolved once from the spec."""

    gateway: str
    gateway_namespace: str
    route_namespace: str
    #: The head Service's namespace (the RayCluster's); TLS Secrets live there too.
    service_namespace: str
    create_gateway: bool
    tls_secret: str | None
    host: str | None

    @property
    def routes_cross_namespace(self) -> bool:
        return self.route_namespace != self.service_namespace


def layout(spec: GatewaySpec, target: Target) -> Layout:
    gw = spec.gateway_api
    rc_ns = spec.ray_cluster.namespace
    return Layout(
        gateway=gw.gateway_name or f"{spec.prefix}-gateway",
        gateway_namespace=gw.gateway_namespace or rc_ns,
        route_namespace=gw.route_namespace or rc_ns,
        service_namespace=target.namespace,
        create_gateway=gw.create_gateway,
        tls_secret=spec.security.tls.secret_name if spec.security.tls else None,
        host=spec.exposures.host,
    )


@dataclass(frozen=True)
class TcpListener:
    name: str
    port: int
    service_port: int
    what: str


def tcp_listeners(spec: GatewaySpec, target: Target) -> list[TcpListener]:
    """One listener per raw TCP port (Ray Client, extra ports, GCS when enabled), by port."""
    ex = spec.exposures
    out = []
    for port, service_port, what in tcp_mappings(spec, target):
        if ex.ray_client.enabled and port == ex.ray_client.port:
            name = "ray-client"
        elif ex.gcs.enabled and port == ex.gcs.port:
            name = "gcs"
        else:
            name = f"tcp-{port}"
        out.append(TcpListener(name, port, service_port, what))
    return out


def http_section(spec: GatewaySpec) -> str:
    """The listener the Dashboard and Serve routes attach to: HTTPS when TLS is on."""
    return "https" if spec.security.tls is not None else "http"


# ---------------------------------------------------------------------------------------------
# The plan: implementation, versions, and where each listener lives, resolved once


@dataclass(frozen=True)
class Plan:
    impl: Implementation
    #: The Gateway API release of the installed CRDs, when known (spec or CRDs in the inputs).
    release: tuple[int, int] | None
    tcp_version: str
    #: Why that TCPRoute version ("served by the TCPRoute CRD in the inputs", ...).
    tcp_version_why: str
    #: The shared Gateway we attach to, when it is in the inputs.
    existing: KubeObject | None = None
    #: Our listener name -> the name of the existing Gateway listener that already serves it.
    reused: tuple[tuple[str, str], ...] = ()
    #: Our listeners that a ListenerSet adds to the (shared) Gateway.
    in_listener_set: tuple[str, ...] = ()

    def reused_name(self, section: str) -> str | None:
        return dict(self.reused).get(section)

    #: What the CRDs in the inputs or the live cluster serve, when known.
    crds: api.InstalledCrds | None = None

    @property
    def listener_set_api(self) -> api.ListenerSetApi:
        return api.listener_set_api(self.release, self.crds)

    @property
    def route_timeouts(self) -> bool:
        """Render HTTPRoute ``timeouts``? Not where they are ignored with a warning (NGF)."""
        return self.impl.honours_route_timeouts is not False


def plan(spec: GatewaySpec, target: Target, cluster: ObjectSet | None = None,
         served: Mapping[str, Sequence[str]] | None = None) -> Plan:
    gw = spec.gateway_api
    impl = implementations.by_key(gw.implementation)
    crds = api.installed_crds(cluster, served)
    release = api.parse_version(gw.version) or (crds.release if crds else None)
    version, why = _tcp_version(spec, impl, crds, release)
    lay = layout(spec, target)
    if lay.create_gateway:
        if len(listeners(spec, target)) > api.MAX_LISTENERS:
            raise RenderError(f"the Gateway would need more than {api.MAX_LISTENERS} listeners "
                              "(the API's limit); expose fewer TCP ports")
        return Plan(impl, release, version, why, crds=crds)
    existing = cluster.get("Gateway", lay.gateway_namespace, lay.gateway) if cluster else None
    wanted = listeners(spec, target)
    reused: list[tuple[str, str]] = []
    missing: list[str] = []
    for listener in wanted:
        found = _matching_listener(existing, listener, lay) if existing is not None else None
        if found is not None:
            reused.append((listener["name"], found))
        else:
            missing.append(listener["name"])
    use_set = gw.listener_set
    if use_set is None:
        use_set = existing is not None and bool(missing) and _allows_listener_sets(
            existing, lay.route_namespace, cluster)
    elif use_set and existing is not None and missing:
        refused = listener_sets_refused(existing, lay.route_namespace, cluster)
        if refused:
            raise RenderError(f"{refused}: ask its owner to allow them, or add the listeners "
                              "to the Gateway itself (gatewayApi.listenerSet: false)")
    if use_set and len(missing) > api.MAX_LISTENERS:
        # A ListenerSet holds at most 64 listeners too (spec.listeners maxItems: 64 in
        # config/crd/standard/gateway.networking.k8s.io_listenersets.yaml @v1.6.1).
        raise RenderError(f"the ListenerSet would need {len(missing)} listeners, more than "
                          f"the API's limit of {api.MAX_LISTENERS}; expose fewer TCP ports")
    return Plan(impl, release, version, why, existing, tuple(reused),
                tuple(missing) if use_set else (), crds)


def _tcp_version(spec: GatewaySpec, impl: Implementation, crds: api.InstalledCrds | None,
                 release: tuple[int, int] | None) -> tuple[str, str]:
    chosen = spec.gateway_api.tcp_route_api_version
    served = crds.tcp_route_served if crds else ()
    if chosen is not None:
        if served and chosen not in served:
            raise RenderError(
                f"gatewayApi.tcpRouteApiVersion {chosen}: {crds.where if crds else ''} serves "
                f"only {', '.join(served)}; the API server would refuse the TCPRoutes")
        return chosen, "gatewayApi.tcpRouteApiVersion"
    if crds is not None and crds.tcp_route_version is not None:
        return crds.tcp_route_version, f"served by {crds.where}"
    if release is not None:
        return api.tcp_route_version_for(release), \
            f"Gateway API v{release[0]}.{release[1]} (v1 from v1.6, v1alpha2 before)"
    if impl.key != "generic" and impl.tcp_route_versions:
        return impl.tcp_route_versions[0], f"what {impl.title} {impl.version_read} reconciles"
    return "v1alpha2", "the default (what most released implementations reconcile)"


def _matching_listener(gw: KubeObject, wanted: Mapping[str, Any], lay: Layout) -> str | None:
    """The name of the Gateway's listener that already serves ``wanted`` to our routes."""
    kind = "TCPRoute" if wanted["protocol"] == "TCP" else "HTTPRoute"
    for listener in gw.spec.get("listeners") or []:
        if not isinstance(listener, dict):
            continue
        if listener.get("protocol") != wanted["protocol"] or listener.get("port") != wanted["port"]:
            continue
        host = listener.get("hostname")
        if host not in (None, "", wanted.get("hostname")):
            continue
        if wanted.get("tls") and not listener.get("tls"):
            continue
        allowed = listener.get("allowedRoutes") or {}
        kinds = allowed.get("kinds")
        if isinstance(kinds, list) and kinds and not any(
                isinstance(k, dict) and k.get("kind") == kind for k in kinds):
            continue
        frm = ((allowed.get("namespaces") or {}).get("from")) or "Same"
        if frm == "Same" and gw.namespace != lay.route_namespace:
            continue
        if frm not in ("Same", "All", "Selector"):
            continue
        if isinstance(listener.get("name"), str):
            return listener["name"]
    return None


def listener_sets_refused(gw: KubeObject, namespace: str, cluster: ObjectSet | None) -> str | None:
    """Why ``gw`` does not accept ListenerSets from ``namespace``; None when it does."""
    if _allows_listener_sets(gw, namespace, cluster):
        return None
    return (f"Gateway {gw.namespace}/{gw.name} does not accept ListenerSets from namespace "
            f"{namespace} (spec.allowedListeners.namespaces, default from: None)")


def _allows_listener_sets(gw: KubeObject, namespace: str, cluster: ObjectSet | None) -> bool:
    allowed = ((gw.spec.get("allowedListeners") or {}).get("namespaces") or {})
    frm = allowed.get("from") or "None"
    if frm == "All":
        return True
    if frm == "Same":
        return namespace == gw.namespace
    if frm == "Selector":
        selector = allowed.get("selector") or {}
        ns_obj = cluster.get("Namespace", "", namespace) if cluster else None
        ns_labels = dict(ns_obj.labels) if ns_obj is not None else {}
        ns_labels.setdefault("kubernetes.io/metadata.name", namespace)
        return matches_label_selector(ns_labels, selector)
    return False


# ---------------------------------------------------------------------------------------------
# The Gateway


def _allowed_routes(lay: Layout, kind: str, namespace: str | None = None) -> dict[str, Any]:
    # Only our route kind, and only from the namespace our routes live in: a shared Gateway
    # must not let any namespace bind to the Ray ports. Cross-namespace attachment is governed
    # by allowedRoutes alone, not by ReferenceGrant (§3.2, §5); the selector uses the label
    # Kubernetes puts on every namespace (kubernetes.io/metadata.name, 1.22+).
    if lay.route_namespace == (namespace or lay.gateway_namespace):
        namespaces: dict[str, Any] = {"from": "Same"}
    else:
        namespaces = {"from": "Selector", "selector": {
            "matchLabels": {"kubernetes.io/metadata.name": lay.route_namespace}}}
    return {"namespaces": namespaces, "kinds": [{"group": GROUP, "kind": kind}]}


def listeners(spec: GatewaySpec, target: Target,
              owner_namespace: str | None = None) -> list[dict[str, Any]]:
    """Every listener our routes need; ``owner_namespace`` is where they are declared (the
    Gateway's namespace, or a ListenerSet's), which ``from: Same`` refers to."""
    lay = layout(spec, target)
    gw = spec.gateway_api
    out: list[dict[str, Any]] = []
    http: dict[str, Any] = {"name": "http", "protocol": "HTTP", "port": gw.http_port}
    if lay.host:
        http["hostname"] = lay.host
    http["allowedRoutes"] = _allowed_routes(lay, "HTTPRoute", owner_namespace)
    out.append(http)
    if lay.tls_secret is not None:
        cert: dict[str, Any] = {"group": "", "kind": "Secret", "name": lay.tls_secret}
        if (owner_namespace or lay.gateway_namespace) != lay.service_namespace:
            cert["namespace"] = lay.service_namespace  # allowed by tls_reference_grant
        out.append({"name": "https", "protocol": "HTTPS", "port": gw.https_port,
                    "hostname": lay.host,
                    "tls": {"mode": "Terminate", "certificateRefs": [cert]},
                    "allowedRoutes": _allowed_routes(lay, "HTTPRoute", owner_namespace)})
    for tcp in tcp_listeners(spec, target):
        # No hostname: the API forbids it on TCP listeners.
        out.append({"name": tcp.name, "protocol": "TCP", "port": tcp.port,
                    "allowedRoutes": _allowed_routes(lay, "TCPRoute", owner_namespace)})
    return out


def gateway(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    lay = layout(spec, target)
    if not lay.create_gateway:
        return None
    gw_spec: dict[str, Any] = {"gatewayClassName": spec.gateway_api.gateway_class_name}
    if metallb.enabled(spec):
        # Propagated to the Service the implementation creates (Extended support,
        # GatewayInfrastructurePropagation; §6.5). Not spec.addresses: see the module doc.
        gw_spec["infrastructure"] = {
            "annotations": dict(sorted(metallb.service_annotations(spec).items()))}
    gw_spec["listeners"] = listeners(spec, target)
    return {
        "apiVersion": API_V1,
        "kind": "Gateway",
        "metadata": {"name": lay.gateway, "namespace": lay.gateway_namespace,
                     "labels": labels()},
        "spec": gw_spec,
    }


def listener_set_name(spec: GatewaySpec) -> str:
    return f"{spec.prefix}-listeners"


def listener_set(spec: GatewaySpec, target: Target, pl: Plan) -> dict[str, Any] | None:
    """The listeners a shared Gateway lacks, attached to it (ListenerSet, v1 from Gateway API
    v1.5; XListenerSet in the v1.4 experimental channel). The Gateway's own spec is never
    touched: it belongs to whoever runs the shared Gateway."""
    if not pl.in_listener_set:
        return None
    lay = layout(spec, target)
    ls_api = pl.listener_set_api
    parent: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": lay.gateway}
    if lay.gateway_namespace != lay.route_namespace:
        parent["namespace"] = lay.gateway_namespace
    wanted = [l for l in listeners(spec, target, owner_namespace=lay.route_namespace)
              if l["name"] in pl.in_listener_set]
    return {
        "apiVersion": ls_api.api_version,
        "kind": ls_api.kind,
        "metadata": {"name": listener_set_name(spec), "namespace": lay.route_namespace,
                     "labels": labels()},
        "spec": {"parentRef": parent, "listeners": wanted},
    }


# ---------------------------------------------------------------------------------------------
# Routes


def _parent(lay: Layout, section: str, pl: Plan | None = None,
            spec: GatewaySpec | None = None) -> dict[str, Any]:
    if pl is not None and spec is not None and section in pl.in_listener_set:
        ls_api = pl.listener_set_api
        # The ListenerSet lives in the routes' namespace: no namespace on the reference.
        return {"group": ls_api.group, "kind": ls_api.kind, "name": listener_set_name(spec),
                "sectionName": section}
    ref: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": lay.gateway}
    if lay.gateway_namespace != lay.route_namespace:
        ref["namespace"] = lay.gateway_namespace
    ref["sectionName"] = (pl.reused_name(section) if pl is not None else None) or section
    return ref


def _backend(lay: Layout, target: Target, port: int) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": target.service}
    if lay.routes_cross_namespace:
        ref["namespace"] = lay.service_namespace  # allowed by routes_reference_grant
    ref["port"] = port
    return ref


def _http_route(spec: GatewaySpec, target: Target, name: str, section: str,
                rules: list[dict[str, Any]], pl: Plan | None = None) -> dict[str, Any]:
    lay = layout(spec, target)
    route_spec: dict[str, Any] = {"parentRefs": [_parent(lay, section, pl, spec)]}
    if lay.host:
        route_spec["hostnames"] = [lay.host]
    route_spec["rules"] = rules
    return {
        "apiVersion": API_V1,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": lay.route_namespace, "labels": labels()},
        "spec": route_spec,
    }


def duration(seconds: int) -> str:
    """Seconds as a Gateway API duration (GEP-2257: ``1h``, ``90s``, no days, <= 5 digits)."""
    return units.gep_duration(seconds)


def _strip_rule(prefix: str, backend: dict[str, Any],
                timeouts: dict[str, str] | None) -> dict[str, Any]:
    # The match carries the trailing slash: per spec `/ray/` and `/ray` match the same
    # requests, and the slash avoids the `//api` result of ReplacePrefixMatch "/" on several
    # Envoy-based data planes (§2.3).
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": prefix + "/"}}],
        "filters": [{"type": "URLRewrite", "urlRewrite": {
            "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
        "backendRefs": [backend],
    }
    if timeouts is not None:
        # Extended support: Envoy Gateway, Istio, Cilium, kgateway and agentgateway honour
        # it (Envoy's own default is 15 s); NGINX Gateway Fabric ignores it with an
        # UnsupportedField condition (§1.4, §4.3), so it is not rendered there.
        rule["timeouts"] = timeouts
    return rule


def idle_seconds(spec: GatewaySpec) -> int:
    """The spec's idle timeout between two reads/writes (ingress-nginx's read/send timeouts)."""
    return max(spec.tuning.read_timeout, spec.tuning.send_timeout)


def dashboard_route_name(spec: GatewaySpec) -> str:
    return f"{spec.prefix}-dashboard"


def serve_route_name(spec: GatewaySpec) -> str:
    return f"{spec.prefix}-serve"


def dashboard_route(spec: GatewaySpec, target: Target, pl: Plan | None = None) -> dict[str, Any]:
    pl = pl or plan(spec, target)
    base = spec.exposures.dashboard.path
    port = target.port("dashboard", "the Dashboard",
                       "add containerPort 8265 named dashboard to the head container")
    lay = layout(spec, target)
    redirect = {
        # Exactly `/ray`: an Exact match beats any prefix (§2.2), so the rewrite below never
        # sees the bare path. ReplaceFullPath, not a prefix replace, which would loop.
        "matches": [{"path": {"type": "Exact", "value": base}}],
        "filters": [{"type": "RequestRedirect", "requestRedirect": {
            "path": {"type": "ReplaceFullPath", "replaceFullPath": base + "/"},
            "statusCode": 301}}],
    }
    # "0s" disables the timeout (or means "as long as possible"): the job log tail is a
    # WebSocket on this rule and must outlive any request timeout (§4.1, §4.2); the idle bound
    # is the implementation's (parity.rule_timeouts).
    strip = _strip_rule(base, _backend(lay, target, port),
                        parity.rule_timeouts(pl.impl, idle_seconds(spec)))
    route_obj = _http_route(spec, target, dashboard_route_name(spec), http_section(spec),
                            [redirect, strip], pl)
    if not spec.exposures.ray_client.enabled:
        # As render/ingress_nginx_manifests.py does: record the user's choice where the catalog's
        # ray-client-not-exposed rule would otherwise ask for a Ray Client path.
        route_obj["metadata"]["annotations"] = {IGNORE_ANNOTATION: "ray-client-not-exposed"}
    return route_obj


def serve_route(spec: GatewaySpec, target: Target, pl: Plan | None = None) -> dict[str, Any] | None:
    serve = spec.exposures.serve
    if serve is None:
        return None
    pl = pl or plan(spec, target)
    port = target.port("serve", "Ray Serve",
                       "add containerPort 8000 named serve to the head container")
    lay = layout(spec, target)
    # ingress-nginx bounds Serve by its read/send timeouts, which are idle timeouts between two
    # reads/writes: a response that keeps streaming lives on. A total timeouts.request would
    # cut it, so Serve gets no total timeout either and keeps the idle bound where the
    # implementation has one (parity.rule_timeouts, the policies below).
    return _http_route(spec, target, serve_route_name(spec), http_section(spec),
                       [_strip_rule(serve.path, _backend(lay, target, port),
                                    parity.rule_timeouts(pl.impl, idle_seconds(spec)))], pl)


def https_redirect_route(spec: GatewaySpec, target: Target,
                         pl: Plan | None = None) -> dict[str, Any] | None:
    """With TLS, the plain HTTP listener only redirects to HTTPS (ingress-nginx's ssl-redirect):
    a Ray token must not cross the network in clear text."""
    if spec.security.tls is None:
        return None
    redirect: dict[str, Any] = {"scheme": "https", "statusCode": 301}
    if spec.gateway_api.https_port != 443:
        # Without a port, a redirect to https uses the scheme's well-known port.
        redirect["port"] = spec.gateway_api.https_port
    return _http_route(spec, target, f"{spec.prefix}-https-redirect", "http",
                       [{"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}],
                       pl)


def tcp_routes(spec: GatewaySpec, target: Target, pl: Plan | None = None) -> list[dict[str, Any]]:
    pl = pl or plan(spec, target)
    lay = layout(spec, target)
    out = []
    for tcp in tcp_listeners(spec, target):
        out.append({
            "apiVersion": f"{GROUP}/{pl.tcp_version}",
            "kind": "TCPRoute",
            "metadata": {"name": f"{spec.prefix}-{tcp.name}", "namespace": lay.route_namespace,
                         "labels": labels()},
            "spec": {
                # sectionName: without it a TCPRoute binds to every TCP listener (§3.2).
                "parentRefs": [_parent(lay, tcp.name, pl, spec)],
                # v1 allows exactly one rule.
                "rules": [{"backendRefs": [_backend(lay, target, tcp.service_port)]}],
            },
        })
    return out


# ---------------------------------------------------------------------------------------------
# ReferenceGrants (they live in the namespace of what is referenced; §5)


def _grant(name: str, namespace: str, from_: list[dict[str, str]],
           to: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": REFERENCE_GRANT_API,
        "kind": "ReferenceGrant",
        "metadata": {"name": name, "namespace": namespace, "labels": labels()},
        "spec": {"from": from_, "to": [to]},
    }


def routes_reference_grant(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    """Lets our routes' namespace reference the head Service (that Service only)."""
    lay = layout(spec, target)
    if not lay.routes_cross_namespace:
        return None
    kinds = ["HTTPRoute"] + (["TCPRoute"] if tcp_listeners(spec, target) else [])
    return _grant(f"{spec.prefix}-routes-to-head", lay.service_namespace,
                  [{"group": GROUP, "kind": k, "namespace": lay.route_namespace} for k in kinds],
                  {"group": "", "kind": "Service", "name": target.service})


def tls_reference_grant(spec: GatewaySpec, target: Target,
                        pl: Plan | None = None) -> dict[str, Any] | None:
    """Lets the Gateway (or our ListenerSet) read the TLS Secret in the RayCluster's namespace
    (that Secret only).

    A separate grant from the routes' one: grants are a product of ``from`` and ``to``, and
    routes have no business reading the Secret.
    """
    lay = layout(spec, target)
    if lay.tls_secret is None:
        return None
    if pl is not None and "https" in pl.in_listener_set:
        if lay.route_namespace == lay.service_namespace:
            return None
        ls_api = pl.listener_set_api
        return _grant(f"{spec.prefix}-listeners-to-tls", lay.service_namespace,
                      [{"group": ls_api.group, "kind": ls_api.kind,
                        "namespace": lay.route_namespace}],
                      {"group": "", "kind": "Secret", "name": lay.tls_secret})
    if not lay.create_gateway or lay.gateway_namespace == lay.service_namespace:
        return None
    return _grant(f"{spec.prefix}-gateway-to-tls", lay.service_namespace,
                  [{"group": GROUP, "kind": "Gateway", "namespace": lay.gateway_namespace}],
                  {"group": "", "kind": "Secret", "name": lay.tls_secret})


# ---------------------------------------------------------------------------------------------
# Implementation policies


def _route_ref(name: str) -> dict[str, Any]:
    return {"group": GROUP, "kind": "HTTPRoute", "name": name}


def _policy(api_version: str, kind: str, name: str, namespace: str,
            spec_body: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": labels()},
            "spec": spec_body}


def _owned_listener_refs(spec: GatewaySpec, target: Target, pl: Plan,
                         protocols: tuple[str, ...]) -> list[dict[str, Any]]:
    """targetRefs (with sectionName) of the listeners raygate declares itself: a policy must
    never change a listener of a shared Gateway that someone else owns."""
    lay = layout(spec, target)
    refs = []
    for listener in listeners(spec, target):
        if listener["protocol"] not in protocols:
            continue
        name = listener["name"]
        if lay.create_gateway:
            refs.append({"group": GROUP, "kind": "Gateway", "name": lay.gateway,
                         "sectionName": name})
        elif name in pl.in_listener_set:
            ls_api = pl.listener_set_api
            if ls_api.kind == "ListenerSet":  # Envoy Gateway targets ListenerSet, not XListenerSet
                refs.append({"group": GROUP, "kind": "ListenerSet",
                             "name": listener_set_name(spec), "sectionName": name})
    return refs


ENVOY_GATEWAY_API = "gateway.envoyproxy.io/v1alpha1"
NGF_API = "gateway.nginx.org/v1alpha1"


def envoy_backend_policy(name: str, namespace: str, routes: list[str],
                         idle_seconds: int) -> dict[str, Any]:
    """BackendTrafficPolicy on HTTPRoutes: the stream idle timeout only. Never requestBuffer."""
    return _policy(ENVOY_GATEWAY_API, "BackendTrafficPolicy", name, namespace,
                   {"targetRefs": [_route_ref(r) for r in routes],
                    "timeout": {"http": {"streamIdleTimeout": duration(idle_seconds)}}})


def envoy_client_policy(name: str, namespace: str, target_refs: list[dict[str, Any]],
                        timeout: dict[str, Any]) -> dict[str, Any]:
    return _policy(ENVOY_GATEWAY_API, "ClientTrafficPolicy", name, namespace,
                   {"targetRefs": target_refs, "timeout": timeout})


def envoy_security_policy(name: str, namespace: str, routes: list[str],
                          cidrs: list[str]) -> dict[str, Any]:
    """SecurityPolicy authorization: the allowlist's CIDRs allowed, everything else denied."""
    return _policy(ENVOY_GATEWAY_API, "SecurityPolicy", name, namespace,
                   {"targetRefs": [_route_ref(r) for r in routes],
                    "authorization": {"defaultAction": "Deny", "rules": [
                        {"name": "allowlist", "action": "Allow",
                         "principal": {"clientCIDRs": list(cidrs)}}]}})


def ngf_client_settings(name: str, namespace: str, route: str, max_bytes: int) -> dict[str, Any]:
    return _policy(NGF_API, "ClientSettingsPolicy", name, namespace,
                   {"targetRef": _route_ref(route), "body": {"maxSize": units.ngf_size(max_bytes)}})


def ngf_proxy_settings(name: str, namespace: str, routes: list[str], read_seconds: int,
                       send_seconds: int) -> dict[str, Any]:
    return _policy(NGF_API, "ProxySettingsPolicy", name, namespace,
                   {"targetRefs": [_route_ref(r) for r in routes],
                    "timeout": {"read": units.ngf_duration(read_seconds),
                                "send": units.ngf_duration(send_seconds)}})


def _http_route_names(spec: GatewaySpec) -> list[str]:
    return [dashboard_route_name(spec)] + ([serve_route_name(spec)] if spec.exposures.serve else [])


def envoy_gateway_policies(spec: GatewaySpec, target: Target, pl: Plan) -> list[dict[str, Any]]:
    """Envoy Gateway v1.9.0 (``gateway.envoyproxy.io/v1alpha1``; facts §4.2):

    * BackendTrafficPolicy on our HTTPRoutes: the stream idle timeout (Envoy's default 5m cuts a
      quiet ``ray job logs --follow``) at the spec's read timeout. Never ``requestBuffer``: the
      buffer filter turns the WebSocket upgrade off (its CRD refuses ``requestBuffer`` together
      with ``httpUpgrade``), and without it Envoy streams bodies with no cap, so uploads work;
    * ClientTrafficPolicy on the listeners raygate declares: the same for HTTP, and the TCP idle
      timeout (default 1h) of Ray Client streams at ``tuning.streamTimeout``;
    * SecurityPolicy: ``security.allowlist`` as authorization by client CIDR (Envoy Gateway's
      proxy Service keeps client addresses with its default externalTrafficPolicy: Local).
    """
    lay = layout(spec, target)
    idle = max(spec.tuning.read_timeout, spec.tuning.send_timeout)
    routes = _http_route_names(spec)
    owner_ns = lay.gateway_namespace if lay.create_gateway else lay.route_namespace
    out = [envoy_backend_policy(f"{spec.prefix}-routes", lay.route_namespace, routes, idle)]
    http_refs = _owned_listener_refs(spec, target, pl, ("HTTP", "HTTPS"))
    if http_refs:
        out.append(envoy_client_policy(f"{spec.prefix}-http-clients", owner_ns, http_refs,
                                       {"http": {"streamIdleTimeout": duration(idle)}}))
    tcp_refs = _owned_listener_refs(spec, target, pl, ("TCP",))
    stream = units.nginx_seconds(spec.tuning.stream_timeout)
    if tcp_refs and stream:
        out.append(envoy_client_policy(f"{spec.prefix}-tcp-clients", owner_ns, tcp_refs,
                                       {"tcp": {"idleTimeout": duration(stream)}}))
    if spec.security.allowlist:
        out.append(envoy_security_policy(f"{spec.prefix}-allowlist", lay.route_namespace, routes,
                                         list(spec.security.allowlist)))
    return out


def nginx_gateway_fabric_policies(spec: GatewaySpec, target: Target,
                                  pl: Plan) -> list[dict[str, Any]]:
    """NGINX Gateway Fabric v2.6.7 (``gateway.nginx.org/v1alpha1``; facts §4.3):

    * ClientSettingsPolicy per HTTPRoute (its ``targetRef`` is one object): ``body.maxSize``,
      as nginx's default ``client_max_body_size`` of 1m would refuse Ray's uploads with 413;
    * ProxySettingsPolicy on the HTTPRoutes: ``timeout.read``/``send`` (nginx's 60 s default),
      as NGF ignores HTTPRoute ``timeouts``.
    """
    lay = layout(spec, target)
    routes = _http_route_names(spec)
    size = units.size_bytes(spec.tuning.body_size)
    out = [ngf_client_settings(f"{r}-body", lay.route_namespace, r, size if size is not None else 0)
           for r in routes]
    out.append(ngf_proxy_settings(f"{spec.prefix}-routes", lay.route_namespace, routes,
                                  spec.tuning.read_timeout, spec.tuning.send_timeout))
    return out


_POLICIES = {"envoy-gateway": envoy_gateway_policies,
             "nginx-gateway-fabric": nginx_gateway_fabric_policies}


def policies(spec: GatewaySpec, target: Target, pl: Plan) -> list[dict[str, Any]]:
    fn = _POLICIES.get(pl.impl.key)
    return fn(spec, target, pl) if fn else []


# ---------------------------------------------------------------------------------------------
# Assembly: apply order, comments, and what Gateway API cannot express


def build_items(spec: GatewaySpec, target: Target, notes: list[str],
                cluster: ObjectSet | None = None,
                warnings: list[str] | None = None,
                served: Mapping[str, Sequence[str]] | None = None) -> list[RenderedObject]:
    """Every object in apply order (pool, grants, Gateway, ListenerSet, routes, policies);
    appends stderr notes and warnings.

    Grants come before the routes so the routes resolve on first reconcile instead of
    reporting ``RefNotPermitted`` until the grant shows up.
    """
    lay = layout(spec, target)
    pl = plan(spec, target, cluster, served)
    items: list[RenderedObject] = []

    def add(obj: dict[str, Any] | None, step: int, *comment: str) -> None:
        if obj is not None:
            items.append(RenderedObject(obj, step, tuple(comment)))

    add(metallb.ip_address_pool(spec), 11, "The address pool MetalLB allocates the gateway IP from.")
    add(metallb.l2_advertisement(spec), 11, "Announces the pool on the local network (L2 mode).")
    add(routes_reference_grant(spec, target), 12,
        f"Routes in {lay.route_namespace} may send traffic to the head Service (only it).")
    add(tls_reference_grant(spec, target, pl), 12,
        f"The {'ListenerSet' if 'https' in pl.in_listener_set else 'Gateway'} in "
        f"{lay.route_namespace if 'https' in pl.in_listener_set else lay.gateway_namespace} "
        "may read the TLS Secret (only it).")
    add(gateway(spec, target), 13, *_gateway_comment(spec))
    add(listener_set(spec, target, pl), 13,
        f"Listeners the shared Gateway {lay.gateway_namespace}/{lay.gateway} lacks, attached",
        "to it without touching its spec (it allows ListenerSets from this namespace).")
    base = spec.exposures.dashboard.path
    rule_timeouts = parity.rule_timeouts(pl.impl, idle_seconds(spec)) or {}
    timeouts = (["request timeout disabled (the job log tail is a WebSocket)."]
                if pl.route_timeouts else
                [f"no HTTPRoute timeouts: {pl.impl.title} ignores them"
                 + ("; see its policies." if pl.impl.policy_group else ".")])
    if "backendRequest" in rule_timeouts:
        timeouts.append(f"backendRequest {rule_timeouts['backendRequest']}: {pl.impl.title}'s "
                        "read/write idle timeouts.")
    add(dashboard_route(spec, target, pl), 14,
        f"Exactly {base} -> 301 {base}/ (the Dashboard's relative asset URLs need the slash);",
        f"{base}/<anything> -> /<anything> on the Dashboard,", *timeouts,
        *_allowlist_comment(spec, pl))
    add(serve_route(spec, target, pl), 14, "Ray Serve under its sub-path; no total request "
        "timeout (nginx's were idle", "timeouts between two reads: a streaming response lives on).",
        *_allowlist_comment(spec, pl))
    add(https_redirect_route(spec, target, pl), 14,
        "Plain HTTP only redirects to HTTPS: tokens never travel in clear text.")
    for route_obj in tcp_routes(spec, target, pl):
        add(route_obj, 15, "Raw TCP to the head Service; TCPRoute has no match fields, so each",
            "port has its own listener (only the oldest route on a listener is attached).",
            f"apiVersion {pl.tcp_version}: {pl.tcp_version_why}.")
    for policy in policies(spec, target, pl):
        add(policy, 16, *_policy_comment(policy))

    notes.extend(_notes(spec, target, lay, pl))
    if warnings is not None:
        warnings.extend(_warnings(spec, target, pl, cluster))
    return items


def _policy_comment(policy: Mapping[str, Any]) -> list[str]:
    kind = policy["kind"]
    if kind == "BackendTrafficPolicy":
        return ["Envoy's 5m stream idle timeout would cut a quiet log tail. No requestBuffer:",
                "it turns the WebSocket upgrade off (ray job logs --follow)."]
    if kind == "ClientTrafficPolicy":
        return ["Idle timeouts of the listeners raygate declares (Envoy: HTTP streams 5m,",
                "TCP 1h by default)."]
    if kind == "ClientSettingsPolicy":
        return ["client_max_body_size for Ray's uploads (nginx's default is 1m)."]
    if kind == "ProxySettingsPolicy":
        return ["Proxy read/send timeouts (nginx's default is 60s; NGINX Gateway Fabric",
                "ignores HTTPRoute timeouts)."]
    if kind == "SecurityPolicy":
        return ["security.allowlist: only these client CIDRs reach the routes (the proxy",
                "Service keeps client addresses with externalTrafficPolicy: Local, the default)."]
    return []


def _gateway_comment(spec: GatewaySpec) -> list[str]:
    lines = ["Listeners admit only our route kind, only from the routes' namespace."]
    if metallb.enabled(spec):
        lines += ["MetalLB is asked through infrastructure.annotations, which the implementation",
                  "copies to the Service it creates; never spec.addresses (-> externalIPs)."]
    return lines


def _allowlist_comment(spec: GatewaySpec, pl: Plan | None = None) -> list[str]:
    if not spec.security.allowlist or (pl is not None and pl.impl.key == "envoy-gateway"):
        return []
    return [f"security.allowlist ({', '.join(spec.security.allowlist)}) is NOT enforced here:",
            "Gateway API has no core source-IP filter; configure your implementation's policy."]


def _warnings(spec: GatewaySpec, target: Target, pl: Plan,
              cluster: ObjectSet | None) -> list[str]:
    out = []
    impl = pl.impl
    crds = pl.crds
    served = crds.tcp_route_served if crds else ()
    # Served versions of one CRD are views of the same objects: what matters is whether the
    # CRDs serve a version the implementation watches, not the version we write.
    if tcp_listeners(spec, target) and impl.key != "generic" and served \
            and not set(impl.tcp_route_versions) & set(served):
        out.append(f"{impl.title} {impl.version_read} watches TCPRoute "
                   f"{', '.join(impl.tcp_route_versions)}, which {crds.where if crds else ''} "
                   f"does not serve ({', '.join(served)}): it will see no TCPRoute and the Ray "
                   "Client port stays closed; install CRDs that serve "
                   f"{impl.tcp_route_versions[0]} (experimental channel) or upgrade it")
    # A Ray path the implementation would make worse than ingress-nginx did (parity).
    out += [v.why for _, v in _parity(spec, target, pl) if v.severity == "error"]
    return out


def _parity(spec: GatewaySpec, target: Target, pl: Plan) -> list[tuple[str, parity.Verdict]]:
    """What the spec's paths keep on this implementation, compared with what ingress-nginx
    rendered from the same spec (``parity``); the policies raygate writes count. The Ray
    Client's TCP idle timeout is compared with ``tuning.streamTimeout`` (ingress-nginx's
    ``proxy-stream-timeout``) when a TCP listener is rendered."""
    impl = pl.impl
    stream = None
    tcp = tcp_listeners(spec, target)
    if tcp:
        seconds = units.nginx_seconds(spec.tuning.stream_timeout)
        tcp_policy = ("ClientTrafficPolicy timeout.tcp.idleTimeout"
                      if pl.impl.key == "envoy-gateway" and seconds
                      and _owned_listener_refs(spec, target, pl, ("TCP",)) else None)
        stream = (seconds, spec.tuning.stream_timeout, tcp_policy,
                  all(t.name == "ray-client" for t in tcp))
    body = units.size_bytes(spec.tuning.body_size)
    rendered = ("ClientSettingsPolicy body.maxSize" if impl.key == "nginx-gateway-fabric"
                else None)
    body_timeout = units.nginx_seconds(nginx.CONFIG_DEFAULTS["client-body-timeout"]) or 0
    return parity.for_spec(impl, spec.tuning.read_timeout, spec.tuning.send_timeout, body,
                           spec.tuning.body_size, body_timeout, rendered, stream)


def _notes(spec: GatewaySpec, target: Target, lay: Layout, pl: Plan) -> list[str]:
    impl = pl.impl
    notes: list[str] = []
    if impl.key == "generic":
        notes += [
            # §4.2/§4.3: no core body-size field; the defaults differ per data plane.
            (f"body size (tuning.bodySize {spec.tuning.body_size}) has no Gateway API field; "
             "Ray job uploads (working_dir) need it: NGINX Gateway Fabric defaults to 1m (set a "
             "ClientSettingsPolicy body.maxSize); Envoy Gateway sets no cap (do not enable a "
             "BackendTrafficPolicy requestBuffer on these routes: it breaks the log-tail "
             "WebSocket); --implementation renders these policies"),
            ("HTTPRoute timeouts are ignored by NGINX Gateway Fabric (set a ProxySettingsPolicy "
             f"timeout of {spec.tuning.read_timeout}s) and by Traefik; TCP idle "
             "timeouts (tuning.streamTimeout) are implementation policy too (Envoy Gateway "
             "ClientTrafficPolicy timeout.tcp.idleTimeout, default 1h)"),
        ]
    elif impl.policy_group is None:
        # Body size, idle timeouts and WebSocket have no Gateway API field: say what the
        # implementation does with them (errors are warnings, see _warnings).
        notes += [f"{impl.title} {subject}: {v.why}" for subject, v in _parity(spec, target, pl)
                  if v.severity == "warning"]
    if impl.key == "envoy-gateway" and not _owned_listener_refs(spec, target, pl, ("TCP",)) \
            and tcp_listeners(spec, target):
        notes.append("the Ray Client TCP idle timeout is the shared Gateway's listener policy "
                     "(Envoy Gateway ClientTrafficPolicy timeout.tcp.idleTimeout, default 1h): "
                     "raygate does not write policies onto listeners it does not own")
    tcp = tcp_listeners(spec, target)
    if tcp and impl.tcp_prerequisite:
        notes.append(f"TCPRoute on {impl.title} needs {impl.tcp_prerequisite}")
    if impl.tcp_listener_needs_entrypoint:
        ports = [(l["name"], l["port"], l["protocol"]) for l in listeners(spec, target)]
        flags = " ".join(f"--entryPoints.{name}.address=:{port}" + ("/tcp" if proto == "TCP" else "")
                         for name, port, proto in ports)
        notes.append(f"Traefik binds a Gateway listener only on a static entryPoint with the "
                     f"same port (traefik/traefik#8974); its static configuration needs: {flags}")
    if spec.security.allowlist and impl.key != "envoy-gateway":
        notes.append("security.allowlist is not rendered: Gateway API has no core source-IP "
                     "filter; configure your implementation's own source-IP policy or a "
                     "firewall in front of the gateway; until then the routes are open to "
                     "anyone who reaches the gateway and rely on Ray token auth")
    if spec.placement.mode == "pinned-node":
        notes.append("placement pinned-node has no Gateway API equivalent: the implementation "
                     "deploys the data plane and its Service; pin it through its own config "
                     "(Envoy Gateway EnvoyProxy, NGINX Gateway Fabric NginxProxy) or use "
                     "--placement metallb for a stable address")
    elif spec.placement.metallb.ip is None:
        notes.append(f"the gateway gets any free address of MetalLB pool "
                     f"{spec.placement.metallb.pool}; it changes if the Gateway's Service is "
                     "re-created: pin it with placement.metallb.ip (--metallb-ip)")
    if spec.placement.mode == "metallb" and not lay.create_gateway:
        notes.append(f"raygate does not own Gateway {lay.gateway_namespace}/{lay.gateway}: add "
                     f"the MetalLB annotation {_metallb_annotation(spec)} to its "
                     "spec.infrastructure.annotations yourself (not spec.addresses)")
    if tcp:
        version = pl.tcp_version
        notes.append(
            f"TCPRoute rendered as v1alpha2 ({pl.tcp_version_why}): it needs the "
            "experimental-channel CRDs (Gateway API <= v1.5, or v1.6 experimental); on v1.6 "
            "standard CRDs use gatewayApi.tcpRouteApiVersion: v1 (Envoy Gateway >= 1.9, "
            "Cilium 1.20)"
            if version == "v1alpha2" else
            f"TCPRoute rendered as v1 ({pl.tcp_version_why}): it needs the Gateway API v1.6 "
            "CRDs and an implementation that reconciles v1 (Envoy Gateway >= 1.9, Cilium "
            "1.20); Istio <= 1.30 and NGINX Gateway Fabric 2.6 only attach v1alpha2 "
            "(gatewayApi.tcpRouteApiVersion)")
    if not lay.create_gateway:
        wanted = [l for l in listeners(spec, target)
                  if l["name"] not in pl.in_listener_set and pl.reused_name(l["name"]) is None]
        if wanted:
            names = ", ".join(f"{l['name']} ({l['protocol']} {l['port']})" for l in wanted)
            have = pl.existing.spec.get("listeners") if pl.existing is not None else None
            have_n = len(have) if isinstance(have, list) else 0
            notes.append(f"routes attach to the existing Gateway {lay.gateway_namespace}/"
                         f"{lay.gateway} by listener name; it needs the listeners {names}, "
                         f"admitting routes from namespace {lay.route_namespace}"
                         + ("" if pl.existing is not None else
                            " (pass the Gateway with --cluster-manifest to attach to its own "
                            "listeners, or --listener-set to add them through a ListenerSet)")
                         + (f"; it already has {have_n} listeners, and a Gateway holds at most "
                            f"{api.MAX_LISTENERS}: its owner must allow ListenerSets from "
                            f"{lay.route_namespace} (spec.allowedListeners) instead"
                            if have_n + len(wanted) > api.MAX_LISTENERS else ""))
    return notes


def _metallb_annotation(spec: GatewaySpec) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(metallb.service_annotations(spec).items()))


# ---------------------------------------------------------------------------------------------
# The routing model (kept here for the renderer's callers; it lives in the backend)

route = routing.route
rewrite_prefix = routing.rewrite_prefix
