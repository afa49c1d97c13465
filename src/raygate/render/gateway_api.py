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
* body size and the source allowlist have no core field: they are left to the implementation
  and ``raygate.render.build`` says so on stderr rather than inventing a vendor policy.

Each function returns plain dicts; order and comments are ``raygate.render``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

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
# The Gateway


def _allowed_routes(lay: Layout, kind: str) -> dict[str, Any]:
    # Only our route kind, and only from the namespace our routes live in: a shared Gateway
    # must not let any namespace bind to the Ray ports. Cross-namespace attachment is governed
    # by allowedRoutes alone, not by ReferenceGrant (§3.2, §5); the selector uses the label
    # Kubernetes puts on every namespace (kubernetes.io/metadata.name, 1.22+).
    if lay.route_namespace == lay.gateway_namespace:
        namespaces: dict[str, Any] = {"from": "Same"}
    else:
        namespaces = {"from": "Selector", "selector": {
            "matchLabels": {"kubernetes.io/metadata.name": lay.route_namespace}}}
    return {"namespaces": namespaces, "kinds": [{"group": GROUP, "kind": kind}]}


def listeners(spec: GatewaySpec, target: Target) -> list[dict[str, Any]]:
    lay = layout(spec, target)
    gw = spec.gateway_api
    out: list[dict[str, Any]] = []
    http: dict[str, Any] = {"name": "http", "protocol": "HTTP", "port": gw.http_port}
    if lay.host:
        http["hostname"] = lay.host
    http["allowedRoutes"] = _allowed_routes(lay, "HTTPRoute")
    out.append(http)
    if lay.tls_secret is not None:
        cert: dict[str, Any] = {"group": "", "kind": "Secret", "name": lay.tls_secret}
        if lay.gateway_namespace != lay.service_namespace:
            cert["namespace"] = lay.service_namespace  # allowed by tls_reference_grant
        out.append({"name": "https", "protocol": "HTTPS", "port": gw.https_port,
                    "hostname": lay.host,
                    "tls": {"mode": "Terminate", "certificateRefs": [cert]},
                    "allowedRoutes": _allowed_routes(lay, "HTTPRoute")})
    for tcp in tcp_listeners(spec, target):
        # No hostname: the API forbids it on TCP listeners.
        out.append({"name": tcp.name, "protocol": "TCP", "port": tcp.port,
                    "allowedRoutes": _allowed_routes(lay, "TCPRoute")})
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


# ---------------------------------------------------------------------------------------------
# Routes


def _parent(lay: Layout, section: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": lay.gateway}
    if lay.gateway_namespace != lay.route_namespace:
        ref["namespace"] = lay.gateway_namespace
    ref["sectionName"] = section
    return ref


def _backend(lay: Layout, target: Target, port: int) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": target.service}
    if lay.routes_cross_namespace:
        ref["namespace"] = lay.service_namespace  # allowed by routes_reference_grant
    ref["port"] = port
    return ref


def _http_route(spec: GatewaySpec, target: Target, name: str, section: str,
                rules: list[dict[str, Any]]) -> dict[str, Any]:
    lay = layout(spec, target)
    route_spec: dict[str, Any] = {"parentRefs": [_parent(lay, section)]}
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
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{unit}" for v, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return "".join(parts) or "0s"


def _strip_rule(prefix: str, backend: dict[str, Any], request_timeout: str) -> dict[str, Any]:
    # The match carries the trailing slash: per spec `/ray/` and `/ray` match the same
    # requests, and the slash avoids the `//api` result of ReplacePrefixMatch "/" on several
    # Envoy-based data planes (§2.3).
    return {
        "matches": [{"path": {"type": "PathPrefix", "value": prefix + "/"}}],
        "filters": [{"type": "URLRewrite", "urlRewrite": {
            "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
        "backendRefs": [backend],
        # Extended support: Envoy Gateway, Istio, Cilium, kgateway and agentgateway honour
        # it (Envoy's own default is 15 s); NGINX Gateway Fabric and Traefik ignore it (§1.4,
        # §4.3): there, set the implementation's proxy timeouts instead.
        "timeouts": {"request": request_timeout},
    }


def dashboard_route(spec: GatewaySpec, target: Target) -> dict[str, Any]:
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
    # WebSocket on this rule and must outlive any request timeout (§4.1, §4.2).
    strip = _strip_rule(base, _backend(lay, target, port), "0s")
    route_obj = _http_route(spec, target, f"{spec.prefix}-dashboard", http_section(spec),
                            [redirect, strip])
    if not spec.exposures.ray_client.enabled:
        # As render/ingress_nginx_manifests.py does: record the user's choice where the catalog's
        # ray-client-not-exposed rule would otherwise ask for a Ray Client path.
        route_obj["metadata"]["annotations"] = {IGNORE_ANNOTATION: "ray-client-not-exposed"}
    return route_obj


def serve_route(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    serve = spec.exposures.serve
    if serve is None:
        return None
    port = target.port("serve", "Ray Serve",
                       "add containerPort 8000 named serve to the head container")
    lay = layout(spec, target)
    # Serve answers plain requests: bound them by the spec's proxy timeout, as ingress-nginx
    # does with proxy-read/send-timeout.
    timeout = duration(max(spec.tuning.read_timeout, spec.tuning.send_timeout))
    return _http_route(spec, target, f"{spec.prefix}-serve", http_section(spec),
                       [_strip_rule(serve.path, _backend(lay, target, port), timeout)])


def https_redirect_route(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    """With TLS, the plain HTTP listener only redirects to HTTPS (ingress-nginx's ssl-redirect):
    a Ray token must not cross the network in clear text."""
    if spec.security.tls is None:
        return None
    redirect: dict[str, Any] = {"scheme": "https", "statusCode": 301}
    if spec.gateway_api.https_port != 443:
        # Without a port, a redirect to https uses the scheme's well-known port.
        redirect["port"] = spec.gateway_api.https_port
    return _http_route(spec, target, f"{spec.prefix}-https-redirect", "http",
                       [{"filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]}])


def tcp_routes(spec: GatewaySpec, target: Target) -> list[dict[str, Any]]:
    lay = layout(spec, target)
    out = []
    for tcp in tcp_listeners(spec, target):
        out.append({
            "apiVersion": f"{GROUP}/{spec.gateway_api.tcp_route_api_version}",
            "kind": "TCPRoute",
            "metadata": {"name": f"{spec.prefix}-{tcp.name}", "namespace": lay.route_namespace,
                         "labels": labels()},
            "spec": {
                # sectionName: without it a TCPRoute binds to every TCP listener (§3.2).
                "parentRefs": [_parent(lay, tcp.name)],
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


def tls_reference_grant(spec: GatewaySpec, target: Target) -> dict[str, Any] | None:
    """Lets the Gateway read the TLS Secret in the RayCluster's namespace (that Secret only).

    A separate grant from the routes' one: grants are a product of ``from`` and ``to``, and
    routes have no business reading the Secret.
    """
    lay = layout(spec, target)
    if lay.tls_secret is None or not lay.create_gateway \
            or lay.gateway_namespace == lay.service_namespace:
        return None
    return _grant(f"{spec.prefix}-gateway-to-tls", lay.service_namespace,
                  [{"group": GROUP, "kind": "Gateway", "namespace": lay.gateway_namespace}],
                  {"group": "", "kind": "Secret", "name": lay.tls_secret})


# ---------------------------------------------------------------------------------------------
# Assembly: apply order, comments, and what Gateway API cannot express


def build_items(spec: GatewaySpec, target: Target, notes: list[str]) -> list[RenderedObject]:
    """Every object in apply order (pool, grants, Gateway, routes); appends stderr notes.

    Grants come before the routes so the routes resolve on first reconcile instead of
    reporting ``RefNotPermitted`` until the grant shows up.
    """
    lay = layout(spec, target)
    items: list[RenderedObject] = []

    def add(obj: dict[str, Any] | None, step: int, *comment: str) -> None:
        if obj is not None:
            items.append(RenderedObject(obj, step, tuple(comment)))

    add(metallb.ip_address_pool(spec), 11, "The address pool MetalLB allocates the gateway IP from.")
    add(metallb.l2_advertisement(spec), 11, "Announces the pool on the local network (L2 mode).")
    add(routes_reference_grant(spec, target), 12,
        f"Routes in {lay.route_namespace} may send traffic to the head Service (only it).")
    add(tls_reference_grant(spec, target), 12,
        f"The Gateway in {lay.gateway_namespace} may read the TLS Secret (only it).")
    add(gateway(spec, target), 13, *_gateway_comment(spec))
    base = spec.exposures.dashboard.path
    add(dashboard_route(spec, target), 14,
        f"Exactly {base} -> 301 {base}/ (the Dashboard's relative asset URLs need the slash);",
        f"{base}/<anything> -> /<anything> on the Dashboard, request timeout disabled (the",
        "job log tail is a WebSocket). timeouts are honoured by Envoy Gateway, Istio, Cilium,",
        "kgateway; NGINX Gateway Fabric and Traefik ignore them.",
        *_allowlist_comment(spec))
    add(serve_route(spec, target), 14, "Ray Serve under its sub-path.", *_allowlist_comment(spec))
    add(https_redirect_route(spec, target), 14,
        "Plain HTTP only redirects to HTTPS: tokens never travel in clear text.")
    for route_obj in tcp_routes(spec, target):
        add(route_obj, 15, "Raw TCP to the head Service; TCPRoute has no match fields, so each",
            "port has its own listener (only the oldest route on a listener is attached).")

    notes.extend(_notes(spec, target, lay))
    return items


def _gateway_comment(spec: GatewaySpec) -> list[str]:
    lines = ["Listeners admit only our route kind, only from the routes' namespace."]
    if metallb.enabled(spec):
        lines += ["MetalLB is asked through infrastructure.annotations, which the implementation",
                  "copies to the Service it creates; never spec.addresses (-> externalIPs)."]
    return lines


def _allowlist_comment(spec: GatewaySpec) -> list[str]:
    if not spec.security.allowlist:
        return []
    return [f"security.allowlist ({', '.join(spec.security.allowlist)}) is NOT enforced here:",
            "Gateway API has no core source-IP filter; configure your implementation's policy."]


def _notes(spec: GatewaySpec, target: Target, lay: Layout) -> list[str]:
    notes = [
        # §4.2/§4.3: no core body-size field; the defaults differ per data plane.
        (f"body size (tuning.bodySize {spec.tuning.body_size}) has no Gateway API field; Ray "
         "job uploads (working_dir) need it: NGINX Gateway Fabric defaults to 1m (set a "
         "ClientSettingsPolicy body.maxSize); Envoy Gateway sets no cap (do not enable a "
         "BackendTrafficPolicy requestBuffer on these routes: it breaks the log-tail WebSocket)"),
        ("HTTPRoute timeouts are ignored by NGINX Gateway Fabric (set a ProxySettingsPolicy "
         f"timeout of {spec.tuning.read_timeout}s) and not claimed by Traefik; TCP idle timeouts "
         "(tuning.streamTimeout) are implementation policy too (Envoy Gateway "
         "ClientTrafficPolicy timeout.tcp.idleTimeout, default 1h)"),
    ]
    if spec.security.allowlist:
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
    if tcp_listeners(spec, target):
        version = spec.gateway_api.tcp_route_api_version
        notes.append(
            "TCPRoute rendered as v1alpha2: it needs the experimental-channel CRDs (Gateway API "
            "<= v1.5, or v1.6 experimental); on v1.6 standard CRDs use "
            "gatewayApi.tcpRouteApiVersion: v1 (Envoy Gateway >= 1.9, Cilium 1.20)"
            if version == "v1alpha2" else
            "TCPRoute rendered as v1: it needs the Gateway API v1.6 CRDs and an implementation "
            "that reconciles v1 (Envoy Gateway >= 1.9, Cilium 1.20); Istio <= 1.30 and NGINX "
            "Gateway Fabric 2.6 only attach v1alpha2 (gatewayApi.tcpRouteApiVersion)")
    if not lay.create_gateway:
        wanted = ", ".join(f"{l['name']} ({l['protocol']} {l['port']})"
                           for l in listeners(spec, target))
        notes.append(f"routes attach to the existing Gateway {lay.gateway_namespace}/"
                     f"{lay.gateway} by listener name; it needs the listeners {wanted}, "
                     f"admitting routes from namespace {lay.route_namespace}")
    return notes


def _metallb_annotation(spec: GatewaySpec) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(metallb.service_annotations(spec).items()))


# ---------------------------------------------------------------------------------------------
# The routing model: HTTPRoute path matching as the spec defines it (§2.2)


def _prefix_matches(prefix: str, path: str) -> bool:
    """PathPrefix: element-wise, a trailing `/` ignored: `/ray/` matches `/ray`, `/ray/x`,
    not `/rayfoo`. Case-sensitive."""
    p = prefix.rstrip("/")
    return p == "" or path == p or path.startswith(p + "/")


def route(rules: Iterable[Mapping[str, Any]], path: str) -> int | None:
    """Index of the rule that serves ``path`` among one host's rules, or None (404).

    Precedence: an Exact match first, then the longest PathPrefix, then rule order.
    """
    best: tuple[int, int, int] | None = None  # (exact?, prefix length, -index)
    for i, rule in enumerate(rules):
        for m in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
            p = m.get("path") or {"type": "PathPrefix", "value": "/"}
            if p["type"] == "Exact" and path == p["value"]:
                key = (1, len(p["value"]), -i)
            elif p["type"] == "PathPrefix" and _prefix_matches(p["value"], path):
                key = (0, len(p["value"].rstrip("/")), -i)
            else:
                continue
            if best is None or key > best:
                best = key
    return None if best is None else -best[2]


def rewrite_prefix(prefix: str, replacement: str, path: str) -> str:
    """The path the backend sees after ``ReplacePrefixMatch`` (the spec's table: `/foo/bar`
    with `/foo` -> `/xyz` gives `/xyz/bar`; `/foo` and `/foo/` with `/` give `/`)."""
    rest = path[len(prefix.rstrip("/")):]
    if replacement.endswith("/"):
        return replacement + rest.lstrip("/")
    return (replacement + rest) or "/"
