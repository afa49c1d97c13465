"""``raygate migrate --to gateway-api``: an ingress-nginx setup for Ray, as Gateway API objects
for one implementation, with a report of what was converted, approximated or dropped.

ingress-nginx stopped receiving releases in March 2026 (facts ``gateway_api_2026.md``). The
migration tools in use leave Ray's paths broken in known ways (``gateway_api_2026.md`` §3):
ingress2gateway drops capture-group rewrites (the Dashboard's ``/ray(/|$)(.*)`` + ``/$2``),
does not read tcp-services at all (Ray Client), and its Envoy Gateway emitter turns
``proxy-body-size`` into a request buffer that switches the log tail's WebSocket off. This module
converts what Gateway API can express exactly:

* the two capture-group prefix strips (``/p(/|$)(.*)`` + ``R$2`` and ``/p/(.*)`` + ``R$1``) into
  ``PathPrefix /p/`` + ``ReplacePrefixMatch R``; ``^/p$`` regexes into ``Exact``; redirects into
  ``RequestRedirect``; TLS sections into HTTPS listeners and an HTTP -> HTTPS redirect;
* every tcp-services entry into a TCP listener and a TCPRoute (one route per listener: TCPRoute
  has no matches);
* body size and proxy timeouts (annotation, else the controller ConfigMap, else the controller's
  defaults) into the implementation's policies (``raygate.render.gateway_api``'s builders), and
  allowlists into Envoy Gateway's SecurityPolicy;

and reports every ingress-nginx annotation, ConfigMap setting and tcp-services entry it met as
``converted``, ``approximated`` or ``dropped``, with why. What would make a Ray path worse after
the move (a lost TCP port, a smaller body limit, a shorter timeout, WebSocket off, a lost
allowlist or authentication) is an ``error`` item, not a footnote. Pure: objects in, objects and
report out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from raygate.backends import ingress_nginx as nginx
from raygate.backends.gateway_api import api, implementations, parity, units
from raygate.model import dataplane
from raygate.model.exposure import ray_exposures
from raygate.objects import KubeObject, ObjectSet
from raygate.render import gateway_api as gw_render

GROUP = api.GROUP
MANAGED = {"app.kubernetes.io/managed-by": "raygate"}

#: Annotations that change nothing once the route is on Gateway API (the behaviour is the
#: default there, or the class is decided by the Gateway).
_NO_OP = {
    "use-regex": "the path was converted from its regex (see the path items)",
    "rewrite-target": "the rewrite was converted with the path (see the path items)",
    "relative-redirects": "Gateway API redirects carry the path; the Location is built by the "
                          "implementation",
    "proxy-http-version": "the implementation speaks HTTP/1.1 to backends by default",
    "proxy-buffering": "response buffering is the implementation's default behaviour",
    "proxy-request-buffering": "the implementations stream request bodies by default",
    "websocket-services": "WebSocket upgrades need no per-Service switch on Gateway API (see "
                          "the WebSocket item for the implementation's default)",
}
#: Annotations whose loss weakens who may reach the Ray head: an error on a Ray route.
_AUTH = ("auth-url", "auth-type", "auth-secret", "auth-signin", "auth-tls-secret",
         "auth-tls-verify-client", "auth-response-headers", "auth-snippet")


@dataclass(frozen=True)
class Options:
    implementation: str = "generic"
    gateway_class: str | None = None
    gateway_name: str = "ray-gateway"
    #: Namespace of the Gateway; default: the first Ray Ingress's.
    gateway_namespace: str | None = None
    #: Attach to an existing Gateway (its listeners are the user's to add; a note says which).
    existing_gateway: bool = False
    #: Gateway API release of the target cluster (decides TCPRoute's version), else from CRDs
    #: in the inputs, else what the implementation reconciles.
    version: str | None = None
    http_port: int = 80
    https_port: int = 443
    #: Also migrate ingress-nginx Ingresses that reach no Ray head.
    all_ingresses: bool = False
    #: Kind -> versions a live cluster serves (its API discovery), when migrating one.
    served: Mapping[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Item:
    source: str       # "Ingress ray/dash", "ConfigMap ingress-nginx/tcp-services"
    subject: str      # annotation key, ConfigMap key, "path /ray/(.*)", "tcp-services 10001"
    status: str       # converted | approximated | dropped
    why: str
    severity: str = "info"  # error: a Ray path is worse after the move
    file: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "subject": self.subject, "status": self.status,
                "severity": self.severity, "why": self.why, "file": self.file, "line": self.line}


@dataclass
class Migration:
    objects: list[dict[str, Any]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Item]:
        return [i for i in self.items if i.severity == "error"]


# ---------------------------------------------------------------------------------------------
# Paths


_META = set("()[]{}*+?|^$\\.")
_STRIP_OPTIONAL_SLASH = re.compile(r"^\^?(?P<prefix>/[A-Za-z0-9._~\-/]*?)\(/\|\$\)\(\.\*\)\$?$")
_STRIP_AFTER_SLASH = re.compile(r"^\^?(?P<prefix>/[A-Za-z0-9._~\-/]*?)/\(\.\*\)\$?$")
_EXACT = re.compile(r"^\^?(?P<path>/[A-Za-z0-9._~\-/]*)\$$")


@dataclass(frozen=True)
class PathConversion:
    match: dict[str, Any] | None
    replace_prefix: str | None = None     # ReplacePrefixMatch value
    replace_full: str | None = None       # ReplaceFullPath value
    status: str = "converted"
    why: str = ""
    #: The literal prefix a user types ("/ray" for "/ray/(.*)"), when the path strips one.
    bare: str | None = None


def _literal(text: str) -> bool:
    return not any(c in _META for c in text.replace(".", ""))


def convert_path(path: str, path_type: str, regex_mode: bool, rewrite: str | None) -> PathConversion:
    """One Ingress path (and the Ingress's rewrite-target) as an HTTPRoute match and rewrite."""
    case = ("ingress-nginx matched it case-insensitively (~*); Gateway API matching is "
            "case-sensitive")
    if not regex_mode:
        if path_type == "Exact":
            return PathConversion({"path": {"type": "Exact", "value": path}},
                                  why="pathType Exact is Exact")
        if path_type == "Prefix":
            return PathConversion({"path": {"type": "PathPrefix", "value": path}},
                                  why="pathType Prefix is element-wise, as PathPrefix")
        return PathConversion({"path": {"type": "PathPrefix", "value": path or "/"}},
                              status="approximated",
                              why="ImplementationSpecific without regex is an nginx string prefix "
                                  "(/foo also matched /foobar); PathPrefix matches whole segments")
    # The two prefix-strip forms: "/p(/|$)(.*)" + "/$2" (also matches the bare /p) and
    # "/p/(.*)" + "/$1" (does not, though PathPrefix /p/ does: the report says so).
    for pattern, group, note in (
            (_STRIP_OPTIONAL_SLASH, 2, " (the same paths and rewrites; {case})"),
            (_STRIP_AFTER_SLASH, 1, "; PathPrefix also matches the bare {prefix}, which the "
                                    "regex did not ({case})")):
        m = pattern.match(path)
        if not (m and rewrite and re.fullmatch(r"(/[^$]*)?\$" + str(group), rewrite)):
            continue
        prefix = m.group("prefix").rstrip("/")
        replacement = rewrite[:-2] or "/"
        if not replacement.endswith("/"):
            replacement += "/"
        return PathConversion({"path": {"type": "PathPrefix", "value": prefix + "/"}},
                              replace_prefix=replacement, bare=prefix, status="approximated",
                              why=f"{path} + rewrite-target {rewrite} is a prefix strip: PathPrefix "
                                  f"{prefix}/ with ReplacePrefixMatch {replacement}"
                                  + note.format(prefix=prefix, case=case))
    m = _EXACT.match(path)
    if m and (rewrite is None or "$" not in rewrite):
        conv = PathConversion({"path": {"type": "Exact", "value": m.group("path")}},
                              replace_full=rewrite, status="approximated",
                              why=f"the anchored regex {path} is Exact {m.group('path')} ({case})")
        return conv
    if _literal(path) and (rewrite is None or "$" not in rewrite):
        return PathConversion({"path": {"type": "PathPrefix", "value": path or "/"}},
                              replace_full=rewrite, status="approximated",
                              why=f"the regex location ^{path} is a string prefix, now PathPrefix "
                                  "(whole segments)" + (f"; rewrite-target {rewrite} replaces "
                                                        "the whole path (ReplaceFullPath)"
                                                        if rewrite else "") + f" ({case})")
    return PathConversion(None, status="dropped",
                          why=f"the regex {path}" + (f" with rewrite-target {rewrite}" if rewrite
                                                     else "") +
                              " has no Gateway API equivalent: HTTPRoute has no regex rewrite "
                              "(GEP-4359) and RegularExpression matches are implementation-"
                              "specific")


# ---------------------------------------------------------------------------------------------
# The migration


@dataclass
class _Route:
    ingress: KubeObject
    host: str | None
    rules: list[dict[str, Any]] = field(default_factory=list)
    ray: bool = False
    dashboard: bool = False
    tls: bool = False
    #: id() of the rules whose backend is a Ray Dashboard.
    dashboard_rules: set[int] = field(default_factory=set)
    #: ssl-passthrough: the backend of a TLSRoute (Service name, port) instead of HTTP rules.
    passthrough: tuple[str, int] | None = None


def migrate(objects: ObjectSet, options: Options) -> Migration:
    out = Migration()
    impl = implementations.by_key(options.implementation)
    ray_ingresses = _ray_ingresses(objects)
    first = ray_ingresses[0] if ray_ingresses else next(
        (i for i in objects.of_kind("Ingress") if nginx.is_ingress(i)), None)
    ns = options.gateway_namespace or (first.namespace if first is not None else "default")
    routes: list[_Route] = []
    tls_hosts: dict[str, tuple[str, str]] = {}  # host -> (secret namespace, secret name)
    body: dict[str, int] = {}       # route name -> bytes (0: unlimited)
    timeouts: dict[str, tuple[int, int, int]] = {}  # route name -> (connect, read, send) s
    allow: dict[str, list[str]] = {}  # route name -> CIDRs
    controllers: list[nginx.Controller] = []

    for ing in objects.of_kind("Ingress"):
        controller = dataplane.controller_of(objects, ing) if nginx.is_ingress(ing) else None
        if controller is None:
            continue  # not served by ingress-nginx: not this migration's to convert
        if ing not in ray_ingresses and not options.all_ingresses:
            out.items.append(_item(ing, "Ingress", "dropped", "no backend reaches a Ray head: "
                                   "not part of this migration", field=("metadata", "name")))
            continue
        if controller not in controllers:
            controllers.append(controller)
        made = _convert_ingress(objects, ing, out, impl)
        for tls in ing.spec.get("tls") or []:
            if isinstance(tls, dict) and isinstance(tls.get("secretName"), str):
                for h in tls.get("hosts") or []:
                    tls_hosts.setdefault(h, (ing.namespace, tls["secretName"]))
        for r in made:
            r.tls = r.host in tls_hosts
        routes += made
        name_of = {id(r): _route_name(r, made) for r in made}
        if any(r.passthrough for r in made):
            continue  # TLS passes through: no HTTP settings apply
        _settings(ing, controller, out, impl, [name_of[id(r)] for r in made],
                  any(r.dashboard for r in made), body, timeouts, allow)

    for r in routes:
        _add_slash_redirect(r, routes, out)
    tcp = _tcp_entries(objects, out, options)
    lost = [p for p, *_ in tcp if p in (options.http_port, options.https_port)]
    for port in lost:
        out.items.append(Item("tcp-services", str(port), "dropped",
                              f"port {port} is the Gateway's HTTP(S) listener port", "error"))
    tcp = [t for t in tcp if t[0] not in lost]
    stream = _stream_timeout(objects, out, impl, tcp, options)

    out.objects = _objects(objects, options, impl, ns, routes, tls_hosts, tcp, body, timeouts,
                           allow, out, controllers, stream)
    return out


def _ray_ingresses(objects: ObjectSet) -> list[KubeObject]:
    seen: list[KubeObject] = []
    for e in ray_exposures(objects):
        if e.channel == "http" and e.via.kind == "Ingress" and e.via not in seen:
            seen.append(e.via)
    return seen


def _item(obj: KubeObject, subject: str, status: str, why: str, severity: str = "info",
          field: tuple[Any, ...] = ()) -> Item:
    line = obj.line_of(field) if field else obj.origin.line
    return Item(f"{obj.kind} {obj.namespace}/{obj.name}", subject, status, why, severity,
                obj.origin.file, line)


def _route_name(r: _Route, siblings: list[_Route]) -> str:
    return r.ingress.name if len(siblings) == 1 else f"{r.ingress.name}-{siblings.index(r)}"


def _convert_ingress(objects: ObjectSet, ing: KubeObject, out: Migration,
                     impl: implementations.Implementation) -> list[_Route]:
    ann = {k[len(nginx.PREFIX):]: str(v) for k, v in ing.annotations.items()
           if k.startswith(nginx.PREFIX)}
    rewrite = ann.get("rewrite-target")
    regex_mode = ann.get("use-regex", "").lower() == "true" or rewrite is not None
    ray_fields = {e.field[:-1] for e in ray_exposures(objects) if e.via is ing}
    dashboard_fields = {e.field[:-1] for e in ray_exposures(objects)
                        if e.via is ing and e.ray_port == "dashboard"}
    redirect = _redirect(ann)
    if ann.get("ssl-passthrough", "").lower() == "true":
        routes = _passthrough_routes(objects, ing, out, ray_fields)
        _report_annotations(ing, ann, out, any(r.ray for r in routes), impl)
        return routes
    by_host: dict[str | None, _Route] = {}
    for fieldpath, entry, host in nginx.ingress_paths(ing):
        route = by_host.setdefault(host, _Route(ing, host))
        path = entry.get("path") or "/"
        conv = convert_path(str(path), str(entry.get("pathType") or "ImplementationSpecific"),
                            regex_mode, rewrite)
        is_ray = fieldpath in ray_fields
        route.ray |= is_ray
        route.dashboard |= fieldpath in dashboard_fields
        severity = "info"
        if conv.match is None:
            severity = "error" if is_ray else "warning"
        out.items.append(_item(ing, f"path {path}", conv.status,
                               conv.why + (" (a Ray path is lost)" if severity == "error" else ""),
                               severity, fieldpath + ("path",)))
        if conv.match is None:
            continue
        rule: dict[str, Any] = {"matches": [conv.match]}
        filters: list[dict[str, Any]] = []
        if redirect is not None:
            filters.append({"type": "RequestRedirect", "requestRedirect": redirect})
        else:
            rewrite_obj: dict[str, Any] = {}
            if conv.replace_prefix is not None:
                rewrite_obj["path"] = {"type": "ReplacePrefixMatch",
                                       "replacePrefixMatch": conv.replace_prefix}
            elif conv.replace_full is not None:
                rewrite_obj["path"] = {"type": "ReplaceFullPath", "replaceFullPath": conv.replace_full}
            if ann.get("upstream-vhost"):
                rewrite_obj["hostname"] = ann["upstream-vhost"]
            if rewrite_obj:
                filters.append({"type": "URLRewrite", "urlRewrite": rewrite_obj})
            if ann.get("x-forwarded-prefix"):
                filters.append({"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "X-Forwarded-Prefix", "value": ann["x-forwarded-prefix"]}]}})
            name, port = nginx.backend_service(entry)
            ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name}
            if port is not None and port.isdigit():
                ref["port"] = int(port)
            else:
                svc = objects.get("Service", ing.namespace, str(name))
                number = None
                for p in (svc.spec.get("ports") or []) if svc is not None else []:
                    if isinstance(p, dict) and p.get("name") == port:
                        number = p.get("port")
                if number is None:
                    out.items.append(_item(ing, f"path {path} backend port {port}", "dropped",
                                           "a named Service port that the inputs cannot resolve "
                                           "(backendRefs need a number)",
                                           "error" if is_ray else "warning", fieldpath))
                    continue
                ref["port"] = number
            rule["backendRefs"] = [ref]
        if filters:
            rule["filters"] = filters
        route.rules.append(rule)
        if fieldpath in dashboard_fields:
            route.dashboard_rules.add(id(rule))
    routes = [r for r in by_host.values() if r.rules]
    _report_annotations(ing, ann, out, any(r.ray for r in routes), impl)
    return routes


def _passthrough_routes(objects: ObjectSet, ing: KubeObject, out: Migration,
                        ray_fields: set[Any]) -> list[_Route]:
    """ssl-passthrough: ingress-nginx hands the TLS connection, by SNI host, to the backend
    untouched (KubeRay's Ray Client guidance, with Ray TLS and backend-protocol GRPC). Gateway
    API says the same with a TLS listener in Passthrough mode and a TLSRoute (Standard since
    v1.5). Paths are not looked at (the bytes are encrypted): the host's first path's backend
    takes the connection, as in ingress-nginx."""
    routes: dict[str | None, _Route] = {}
    for fieldpath, entry, host in nginx.ingress_paths(ing):
        name, port = nginx.backend_service(entry)
        if host is None:
            out.items.append(_item(ing, f"path {entry.get('path')}", "dropped",
                                   "ssl-passthrough routes by SNI host name: a rule without a "
                                   "host cannot be passed through", "error"
                                   if fieldpath in ray_fields else "warning", fieldpath))
            continue
        if host in routes or not (isinstance(name, str) and port and port.isdigit()):
            out.items.append(_item(ing, f"path {entry.get('path')}", "dropped",
                                   "with ssl-passthrough only the host's first backend receives "
                                   "connections (paths are encrypted)", "info", fieldpath))
            continue
        route = _Route(ing, host, ray=fieldpath in ray_fields, passthrough=(name, int(port)))
        routes[host] = route
        out.items.append(_item(ing, f"path {entry.get('path')}", "converted",
                               f"a TLS listener in Passthrough mode for {host} and a TLSRoute to "
                               f"{name}:{port} (the TLS connection reaches the backend as "
                               "before)", field=fieldpath + ("path",)))
    return list(routes.values())


def _add_slash_redirect(route: _Route, routes: list[_Route], out: Migration) -> None:
    """PathPrefix /ray/ also matches the bare /ray (the regex /ray/(.*) did not): the Dashboard
    needs /ray redirected to /ray/, as ingress-nginx's separate redirect Ingress did. Added only
    when no route of the same host (that Ingress, converted) already has an Exact /ray rule."""
    if not route.dashboard:
        return
    same_host = [r for r in routes if r.host == route.host]
    for rule in list(route.rules):
        if id(rule) not in route.dashboard_rules:
            continue
        for f in rule.get("filters") or []:
            path = (f.get("urlRewrite") or {}).get("path") or {}
            if path.get("type") != "ReplacePrefixMatch":
                continue
            prefix = rule["matches"][0]["path"]["value"].rstrip("/")
            exact = [rule for r in same_host for rule in r.rules
                     if any((m.get("path") or {}) == {"type": "Exact", "value": prefix}
                            for m in rule.get("matches") or [])]
            if prefix and not exact:
                route.rules.insert(0, {
                    "matches": [{"path": {"type": "Exact", "value": prefix}}],
                    "filters": [{"type": "RequestRedirect", "requestRedirect": {
                        "path": {"type": "ReplaceFullPath", "replaceFullPath": prefix + "/"},
                        "statusCode": 301}}]})
                out.items.append(_item(route.ingress, f"path {prefix}", "approximated",
                                       f"added Exact {prefix} -> 301 {prefix}/: PathPrefix "
                                       f"{prefix}/ also serves the bare {prefix}, where the "
                                       "Dashboard's relative assets would break"))


def _redirect(ann: Mapping[str, str]) -> dict[str, Any] | None:
    for key, default in (("permanent-redirect", 301), ("temporal-redirect", 302)):
        target = ann.get(key)
        if not target:
            continue
        code = ann.get(f"{key}-code")
        status = int(code) if code and code.isdigit() else default
        if status not in (301, 302, 303, 307, 308):
            status = default
        parts = urlsplit(target)
        out: dict[str, Any] = {}
        if parts.scheme:
            out["scheme"] = parts.scheme
        if parts.hostname:
            out["hostname"] = parts.hostname
        if parts.port:
            out["port"] = parts.port
        if parts.path:
            out["path"] = {"type": "ReplaceFullPath", "replaceFullPath": parts.path}
        out["statusCode"] = status
        return out
    return None


def _report_annotations(ing: KubeObject, ann: Mapping[str, str], out: Migration, ray: bool,
                        impl: implementations.Implementation) -> None:
    handled_elsewhere = {"proxy-body-size", "proxy-read-timeout", "proxy-send-timeout",
                         "proxy-connect-timeout", "allowlist-source-range",
                         "whitelist-source-range"}
    for key in sorted(ann):
        field = ("metadata", "annotations", nginx.PREFIX + key)
        subject = nginx.PREFIX + key
        if key in handled_elsewhere:
            continue
        if key in _NO_OP:
            out.items.append(_item(ing, subject, "converted", _NO_OP[key], field=field))
        elif key in ("permanent-redirect", "temporal-redirect", "permanent-redirect-code",
                     "temporal-redirect-code"):
            out.items.append(_item(ing, subject, "converted", "RequestRedirect filter",
                                   field=field))
        elif key in ("ssl-redirect", "force-ssl-redirect"):
            out.items.append(_item(ing, subject, "converted",
                                   "an HTTP -> HTTPS redirect route on the HTTP listener"
                                   if ann[key].lower() == "true" else
                                   "no HTTP -> HTTPS redirect", field=field))
        elif key in ("upstream-vhost", "x-forwarded-prefix"):
            out.items.append(_item(ing, subject, "converted",
                                   "URLRewrite hostname" if key == "upstream-vhost" else
                                   "RequestHeaderModifier set X-Forwarded-Prefix", field=field))
        elif key == "backend-protocol" and ann[key].upper() == "HTTP":
            out.items.append(_item(ing, subject, "converted", "HTTP is the default", field=field))
        elif key == "ssl-passthrough" and ann[key].lower() == "true":
            out.items.append(_item(ing, subject, "converted",
                                   "TLS listener (Passthrough) + TLSRoute", field=field))
        elif key == "backend-protocol" and ann.get("ssl-passthrough", "").lower() == "true":
            out.items.append(_item(ing, subject, "converted",
                                   "irrelevant under passthrough: the gateway never sees the "
                                   "protocol inside TLS", field=field))
        elif key in ("backend-protocol", "ssl-passthrough"):
            out.items.append(_item(ing, subject, "dropped",
                                   f"{key}: {ann[key]} needs GRPCRoute/TLSRoute or "
                                   "BackendTLSPolicy, which this migration does not write; "
                                   "for Ray Client prefer the TCPRoute from tcp-services",
                                   "error" if ray else "warning", field))
        elif key in _AUTH:
            out.items.append(_item(ing, subject, "dropped",
                                   "gateway authentication has no Gateway API field; the Ray "
                                   "route would be open to anyone reaching the gateway (use Ray "
                                   "token auth, or the implementation's own auth policy)",
                                   "error" if ray else "warning", field))
        elif key.endswith("snippet"):
            out.items.append(_item(ing, subject, "dropped",
                                   "raw nginx configuration has no Gateway API equivalent",
                                   "warning", field))
        elif key.startswith(("limit-", "global-rate-limit")):
            out.items.append(_item(ing, subject, "dropped",
                                   f"rate limiting is {impl.title}'s own policy", "warning", field))
        elif key == "denylist-source-range":
            out.items.append(_item(ing, subject, "dropped",
                                   "source denylists are the implementation's own policy",
                                   "warning", field))
        else:
            out.items.append(_item(ing, subject, "dropped",
                                   "no Gateway API equivalent converted by raygate", field=field))


def _setting(ing: KubeObject, controller: nginx.Controller, key: str) -> tuple[str, str]:
    """What the controller really applies today (the migration must keep *that*): an annotation
    its validator refuses falls back to the ConfigMap, a ConfigMap value it cannot decode keeps
    the default, and a body size nginx.tmpl will not write leaves nginx's 1m."""
    value = nginx.annotation(ing, key)
    if key == "proxy-body-size":
        size = nginx.body_size(controller, value)
        where = (f"annotation {nginx.PREFIX}{key}" if size.source == "annotation" else
                 f"{key} of {controller.setting_source(key)}")
        return size.effective, where + ("" if size.written else
                                        f", not written by nginx.tmpl: nginx's "
                                        f"{nginx.NGINX_DEFAULT_BODY_SIZE} applies")
    if value is not None and nginx.go_parse_int(value.strip()) is not None:
        return value.strip(), f"annotation {nginx.PREFIX}{key}"
    return controller.setting(key), f"{key} of {controller.setting_source(key)}"


def _settings(ing: KubeObject, controller: nginx.Controller, out: Migration,
              impl: implementations.Implementation, route_names: list[str], dashboard: bool,
              body: dict[str, int], timeouts: dict[str, tuple[int, int, int]],
              allow: dict[str, list[str]]) -> None:
    """Body size, proxy timeouts and the allowlist of one Ray Ingress, as the implementation's
    policies; reported once per Ingress."""
    size_text, size_src = _setting(ing, controller, "proxy-body-size")
    old = units.size_bytes(size_text)
    field = ("metadata", "annotations", nginx.PREFIX + "proxy-body-size")
    subject = f"proxy-body-size ({size_src})"
    if old is not None:
        for r in route_names:
            body[r] = old
    # What the target keeps of each setting: parity's verdicts on the profiles' facts (an
    # error whenever the result is smaller, shorter or off).
    rendered = (f"ClientSettingsPolicy body.maxSize {units.ngf_size(old or 0)}"
                if impl.key == "nginx-gateway-fabric" else None)
    verdict = parity.body_size(impl, old, size_text, dashboard, rendered)
    out.items.append(_item(ing, subject, verdict.status, verdict.why, verdict.severity, field))
    if dashboard:
        verdict = parity.websocket(impl)
        out.items.append(_item(ing, "WebSocket (ray job logs --follow)", verdict.status,
                               verdict.why, verdict.severity))
    values = []
    for key in ("proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout"):
        text, _ = _setting(ing, controller, key)
        values.append(units.nginx_seconds(text) or 0)
    connect, read, send = values
    for r in route_names:
        timeouts[r] = (connect, read, send)
    subject = (f"proxy-read-timeout/proxy-send-timeout ({read}s/{send}s, "
               f"{_setting(ing, controller, 'proxy-read-timeout')[1]})")
    field = ("metadata", "annotations", nginx.PREFIX + "proxy-read-timeout")
    knob = {"nginx-gateway-fabric": "ProxySettingsPolicy timeout.read/send",
            "envoy-gateway": "BackendTrafficPolicy timeout.http.streamIdleTimeout "
                             f"{units.gep_duration(max(read, send))} (the route's idle timeout)"}
    verdict = parity.idle_timeout(impl, read, send, knob.get(impl.key))
    out.items.append(_item(ing, subject, verdict.status, verdict.why, verdict.severity, field))
    # ConfigMap only: ingress-nginx has no client-body-timeout annotation.
    body_timeout_text = controller.setting("client-body-timeout")
    body_timeout_src = f"client-body-timeout of {controller.setting_source('client-body-timeout')}"
    verdict = parity.request_read(impl, units.nginx_seconds(body_timeout_text) or 0)
    if verdict is not None:
        out.items.append(_item(ing, f"client-body-timeout ({body_timeout_text}s between two "
                                    f"reads, {body_timeout_src})",
                               verdict.status, verdict.why, verdict.severity))
    cidrs_text = nginx.annotation(ing, "allowlist-source-range") or \
        nginx.annotation(ing, "whitelist-source-range") or \
        controller.config.get("whitelist-source-range")
    if cidrs_text:
        cidrs = [c.strip() for c in str(cidrs_text).split(",") if c.strip()]
        for r in route_names:
            allow[r] = cidrs
        subject = "allowlist-source-range"
        field = ("metadata", "annotations", nginx.PREFIX + subject)
        if impl.key == "envoy-gateway":
            out.items.append(_item(ing, subject, "converted",
                                   "Envoy Gateway SecurityPolicy authorization: allow "
                                   f"{', '.join(cidrs)}, deny the rest (the client address is "
                                   "kept by the proxy Service's externalTrafficPolicy: Local, "
                                   "Envoy Gateway's default)", field=field))
        else:
            out.items.append(_item(ing, subject, "dropped",
                                   "Gateway API has no source-IP filter and raygate writes none "
                                   f"for {impl.title}: the route would be open to every address "
                                   "that reaches the gateway", "error", field))


def _tcp_entries(objects: ObjectSet, out: Migration,
                 options: Options) -> list[tuple[int, str, str, int, KubeObject]]:
    """(external port, namespace, Service, Service port, ConfigMap) per convertible entry."""
    found: list[tuple[int, str, str, int, KubeObject]] = []
    for cm in nginx.tcp_services_configmaps(objects):
        for entry in nginx.tcp_entries(cm):
            source = f"ConfigMap {cm.namespace}/{cm.name}"
            subject = f"tcp-services {entry.key}"
            line = cm.line_of(entry.field)
            if entry.error or entry.namespace is None or entry.service is None \
                    or entry.external_port is None:
                out.items.append(Item(source, subject, "dropped",
                                      f"ingress-nginx refuses this entry too: {entry.error}",
                                      "warning", cm.origin.file, line))
                continue
            port = entry.port or ""
            number: int | None = int(port) if port.isdigit() else None
            if number is None:
                svc = objects.get("Service", entry.namespace, entry.service)
                resolved = nginx.resolve_service_port(svc, port) if svc is not None else None
                number = resolved.get("port") if resolved else None
            if number is None:
                out.items.append(Item(source, subject, "dropped",
                                      f"the Service port {port!r} cannot be resolved from the "
                                      "inputs (backendRefs need a number): the port is lost",
                                      "error", cm.origin.file, line))
                continue
            why = (f"TCP listener tcp-{entry.external_port} and a TCPRoute to "
                   f"{entry.namespace}/{entry.service}:{number}")
            status, severity = "converted", "info"
            if entry.proxy_decode or entry.proxy_encode:
                status, severity = "approximated", "warning"
                why += ("; the PROXY protocol flags are not carried over (configure the "
                        "implementation's proxy-protocol policy)")
            out.items.append(Item(source, subject, status, why, severity, cm.origin.file, line))
            found.append((entry.external_port, entry.namespace, entry.service, number, cm))
    for cm in objects.of_kind("ConfigMap"):
        if cm.name in ("udp-services", "ingress-nginx-udp") and isinstance(cm.get("data"), dict):
            for key in cm.get("data"):
                out.items.append(Item(f"ConfigMap {cm.namespace}/{cm.name}", f"udp-services {key}",
                                      "dropped", "UDPRoute is not written by this migration",
                                      "warning", cm.origin.file, cm.line_of(("data", key))))
    return sorted(found, key=lambda t: t[0])


def _stream_timeout(objects: ObjectSet, out: Migration, impl: implementations.Implementation,
                    tcp: list[tuple[int, str, str, int, KubeObject]],
                    options: Options) -> int | None:
    """The TCP idle timeout of the controller that reads the tcp-services ConfigMap, and its
    verdict for the TCPRoutes (``parity.tcp_idle``; whether every port is the Ray Client's comes
    from the model's exposures): on Envoy Gateway the ClientTrafficPolicy raygate writes on the
    TCP listeners of a Gateway it creates carries it (``_policies``)."""
    if not tcp:
        return None
    readers = nginx.controllers_reading(objects, tcp[0][4])
    controller = readers[0] if readers else nginx.default_controller(objects)
    text = controller.setting("proxy-stream-timeout")
    src = controller.setting_source("proxy-stream-timeout")
    seconds = units.nginx_seconds(text)
    rendered = ("ClientTrafficPolicy timeout.tcp.idleTimeout on the TCP listeners"
                if impl.key == "envoy-gateway" and seconds and not options.existing_gateway
                else None)
    client_ports = {e.external_port for e in ray_exposures(objects)
                    if e.channel == "tcp" and e.via is tcp[0][4] and e.ray_port == "client"}
    only_ray_client = all(port in client_ports for port, *_ in tcp)
    verdict = parity.tcp_idle(impl, seconds, str(text), rendered, only_ray_client)
    out.items.append(Item(src, f"proxy-stream-timeout {text}", verdict.status, verdict.why,
                          verdict.severity))
    return seconds


# ---------------------------------------------------------------------------------------------
# Objects


def _objects(objects: ObjectSet, options: Options, impl: implementations.Implementation,
             ns: str, routes: list[_Route], tls_hosts: dict[str, tuple[str, str]],
             tcp: list[tuple[int, str, str, int, KubeObject]], body: dict[str, int],
             timeouts: dict[str, tuple[int, int, int]], allow: dict[str, list[str]],
             out: Migration, controllers: list[nginx.Controller],
             stream: int | None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    route_namespaces = sorted({r.ingress.namespace for r in routes} | {t[1] for t in tcp})
    listeners: list[dict[str, Any]] = []

    def allowed(kind: str) -> dict[str, Any]:
        if route_namespaces in ([], [ns]):
            namespaces: dict[str, Any] = {"from": "Same"}
        else:
            namespaces = {"from": "Selector", "selector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "In",
                "values": route_namespaces}]}}
        return {"namespaces": namespaces, "kinds": [{"group": GROUP, "kind": kind}]}

    listeners.append({"name": "http", "protocol": "HTTP", "port": options.http_port,
                      "allowedRoutes": allowed("HTTPRoute")})
    https_name: dict[str, str] = {}
    for i, (host, (secret_ns, secret)) in enumerate(sorted(tls_hosts.items())):
        name = f"https-{i}" if len(tls_hosts) > 1 else "https"
        https_name[host] = name
        cert: dict[str, Any] = {"group": "", "kind": "Secret", "name": secret}
        if secret_ns != ns:
            cert["namespace"] = secret_ns
            result.append(_grant(f"{options.gateway_name}-tls-{i}", secret_ns,
                                 [{"group": GROUP, "kind": "Gateway", "namespace": ns}],
                                 {"group": "", "kind": "Secret", "name": secret}))
        listeners.append({"name": name, "protocol": "HTTPS", "port": options.https_port,
                          "hostname": host,
                          "tls": {"mode": "Terminate", "certificateRefs": [cert]},
                          "allowedRoutes": allowed("HTTPRoute")})
    passthrough_hosts = sorted({r.host for r in routes if r.passthrough and r.host})
    for i, host in enumerate(passthrough_hosts):
        listeners.append({"name": f"tls-passthrough-{i}", "protocol": "TLS",
                          "port": options.https_port, "hostname": host,
                          "tls": {"mode": "Passthrough"}, "allowedRoutes": allowed("TLSRoute")})
    for port, *_ in tcp:
        listeners.append({"name": f"tcp-{port}", "protocol": "TCP", "port": port,
                          "allowedRoutes": allowed("TCPRoute")})
    if not options.existing_gateway:
        gw_spec: dict[str, Any] = {"gatewayClassName": options.gateway_class or ""}
        placement = _metallb_annotations(objects, out, controllers)
        if placement:
            gw_spec["infrastructure"] = {"annotations": placement}
        gw_spec["listeners"] = listeners
        result.append({"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
                       "metadata": {"name": options.gateway_name, "namespace": ns,
                                    "labels": dict(MANAGED)},
                       "spec": gw_spec})
    else:
        out.notes.append(f"attach: Gateway {ns}/{options.gateway_name} needs the listeners "
                         + ", ".join(f"{l['name']} ({l['protocol']} {l['port']})" for l in listeners))

    def parent(route_ns: str, section: str) -> dict[str, Any]:
        ref: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": options.gateway_name}
        if route_ns != ns:
            ref["namespace"] = ns
        ref["sectionName"] = section
        return ref

    names: dict[int, str] = {}
    by_ingress: dict[int, list[_Route]] = {}
    for r in routes:
        by_ingress.setdefault(id(r.ingress), []).append(r)
    tls_version = "v1alpha2" if (api.parse_version(options.version) or (9, 9)) < (1, 5) else "v1"
    tls_served = (options.served or {}).get("TLSRoute") or ()
    if tls_served:  # a live cluster: the version it serves (v1 from v1.5)
        tls_version = next((v for v in ("v1", "v1alpha3", "v1alpha2") if v in tls_served),
                           tls_version)
    for r in routes:
        name = _route_name(r, by_ingress[id(r.ingress)])
        names[id(r)] = name
        if r.passthrough is not None:
            section = f"tls-passthrough-{passthrough_hosts.index(r.host)}"
            result.append({"apiVersion": f"{GROUP}/{tls_version}", "kind": "TLSRoute",
                           "metadata": {"name": name, "namespace": r.ingress.namespace,
                                        "labels": dict(MANAGED)},
                           "spec": {"parentRefs": [parent(r.ingress.namespace, section)],
                                    "hostnames": [r.host],
                                    "rules": [{"backendRefs": [{
                                        "group": "", "kind": "Service",
                                        "name": r.passthrough[0], "port": r.passthrough[1]}]}]}})
            continue
        rules = []
        for rule in r.rules:
            rule = dict(rule)
            if "backendRefs" in rule and name in timeouts:
                # As raygate render does: no total request timeout (nginx's read/send timeouts
                # bound a pause, not a transaction), the idle bound where the implementation
                # keeps it in the route (parity.rule_timeouts).
                _, read, send = timeouts[name]
                rule_timeouts = parity.rule_timeouts(impl, max(read, send))
                if rule_timeouts is not None:
                    rule["timeouts"] = rule_timeouts
            rules.append(rule)
        section = https_name.get(r.host or "", "http") if r.tls else "http"
        spec: dict[str, Any] = {"parentRefs": [parent(r.ingress.namespace, section)]}
        if r.host:
            spec["hostnames"] = [r.host]
        spec["rules"] = rules
        result.append({"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
                       "metadata": {"name": name, "namespace": r.ingress.namespace,
                                    "labels": dict(MANAGED)}, "spec": spec})
        ssl_redirect = (nginx.annotation(r.ingress, "ssl-redirect") or "true").lower() == "true"
        if r.tls and ssl_redirect:
            result.append({"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute",
                           "metadata": {"name": f"{name}-https-redirect",
                                        "namespace": r.ingress.namespace, "labels": dict(MANAGED)},
                           "spec": {"parentRefs": [parent(r.ingress.namespace, "http")],
                                    "hostnames": [r.host],
                                    "rules": [{"filters": [{"type": "RequestRedirect",
                                                            "requestRedirect": _https_redirect(options)}]}]}})
    version = _tcp_version(objects, options, impl)
    for port, svc_ns, svc, svc_port, _cm in tcp:
        result.append({"apiVersion": f"{GROUP}/{version}", "kind": "TCPRoute",
                       "metadata": {"name": f"{svc}-{port}", "namespace": svc_ns,
                                    "labels": dict(MANAGED)},
                       "spec": {"parentRefs": [parent(svc_ns, f"tcp-{port}")],
                                "rules": [{"backendRefs": [{"group": "", "kind": "Service",
                                                            "name": svc, "port": svc_port}]}]}})
    result += _policies(objects, options, impl, ns, routes, names, tcp, body, timeouts, allow,
                        stream)
    return result


def _https_sections(routes: list[_Route]) -> list[str]:
    hosts = sorted({r.host for r in routes if r.tls and r.host})
    return [f"https-{i}" if len(hosts) > 1 else "https" for i in range(len(hosts))]


def _metallb_annotations(objects: ObjectSet, out: Migration,
                         controllers: list[nginx.Controller]) -> dict[str, str]:
    """MetalLB's address request on the ingress-nginx controller's Service, for the Gateway's
    ``spec.infrastructure.annotations`` (propagated to the Service the implementation creates;
    never ``spec.addresses``, which Envoy Gateway and NGF turn into externalIPs; facts
    ``gateway_api_metallb.md`` §6.5, §7)."""
    found: dict[str, str] = {}
    namespaces = sorted({c.namespace for c in controllers})
    for svc in (s for ns in namespaces for s in objects.in_namespace("Service", ns)):
        if svc.spec.get("type") != "LoadBalancer":
            continue
        for key, value in sorted(svc.annotations.items()):
            if key.startswith(("metallb.io/", "metallb.universe.tf/")) \
                    and key.rsplit("/", 1)[1] in ("loadBalancerIPs", "address-pool", "allow-shared-ip"):
                found[key] = str(value)
                out.items.append(_item(svc, key, "converted",
                                       "Gateway spec.infrastructure.annotations (the address "
                                       "moves to the Service the implementation creates)",
                                       field=("metadata", "annotations", key)))
    return found


def _https_redirect(options: Options) -> dict[str, Any]:
    redirect: dict[str, Any] = {"scheme": "https", "statusCode": 301}
    if options.https_port != 443:
        redirect["port"] = options.https_port
    return redirect


def _tcp_version(objects: ObjectSet, options: Options, impl: implementations.Implementation) -> str:
    crds = api.installed_crds(objects, options.served)
    if crds is not None and crds.tcp_route_version:
        return crds.tcp_route_version
    release = api.parse_version(options.version)
    if release is not None:
        return api.tcp_route_version_for(release)
    if impl.key != "generic" and impl.tcp_route_versions:
        return impl.tcp_route_versions[0]
    return "v1alpha2"


def _grant(name: str, namespace: str, from_: list[dict[str, str]],
           to: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": gw_render.REFERENCE_GRANT_API, "kind": "ReferenceGrant",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED)},
            "spec": {"from": from_, "to": [to]}}


def _policies(objects: ObjectSet, options: Options, impl: implementations.Implementation,
              ns: str, routes: list[_Route], names: dict[int, str],
              tcp: list[tuple[int, str, str, int, KubeObject]], body: dict[str, int],
              timeouts: dict[str, tuple[int, int, int]], allow: dict[str, list[str]],
              stream: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    per_ns: dict[str, list[str]] = {}
    for r in routes:
        if r.passthrough is None and any("backendRefs" in rule for rule in r.rules):
            per_ns.setdefault(r.ingress.namespace, []).append(names[id(r)])
    if impl.key == "nginx-gateway-fabric":
        for route_ns, route_names in sorted(per_ns.items()):
            for name in route_names:
                size = body.get(name)
                if size is not None:
                    out.append(gw_render.ngf_client_settings(f"{name}-body", route_ns, name, size))
            groups: dict[tuple[int, int], list[str]] = {}
            for name in route_names:
                if name in timeouts:
                    _, read, send = timeouts[name]
                    groups.setdefault((read, send), []).append(name)
            for i, ((read, send), members) in enumerate(sorted(groups.items())):
                out.append(gw_render.ngf_proxy_settings(
                    f"{members[0]}-proxy" if len(members) == 1 else f"routes-proxy-{i}",
                    route_ns, members, read, send))
    elif impl.key == "envoy-gateway":
        for route_ns, route_names in sorted(per_ns.items()):
            idle = max((max(timeouts[n][1], timeouts[n][2]) for n in route_names if n in timeouts),
                       default=0)
            if idle:
                out.append(gw_render.envoy_backend_policy(f"{route_names[0]}-timeouts", route_ns,
                                                          route_names, idle))
            cidr_groups: dict[tuple[str, ...], list[str]] = {}
            for name in route_names:
                if name in allow:
                    cidr_groups.setdefault(tuple(allow[name]), []).append(name)
            for cidrs, members in sorted(cidr_groups.items()):
                out.append(gw_render.envoy_security_policy(f"{members[0]}-allowlist", route_ns,
                                                           members, list(cidrs)))
        http_idle = max((max(t[1], t[2]) for t in timeouts.values()), default=0)
        if http_idle and not options.existing_gateway:
            sections = ["http"] + sorted({l for l in _https_sections(routes)})
            out.append(gw_render.envoy_client_policy(
                f"{options.gateway_name}-http-clients", ns,
                [{"group": GROUP, "kind": "Gateway", "name": options.gateway_name,
                  "sectionName": s} for s in sections],
                {"http": {"streamIdleTimeout": units.gep_duration(http_idle)}}))
        if tcp and not options.existing_gateway:
            if stream:
                out.append(gw_render.envoy_client_policy(
                    f"{options.gateway_name}-tcp-clients", ns,
                    [{"group": GROUP, "kind": "Gateway", "name": options.gateway_name,
                      "sectionName": f"tcp-{p}"} for p, *_ in tcp],
                    {"tcp": {"idleTimeout": units.gep_duration(stream)}}))
    return out


__all__ = ["Options", "Item", "Migration", "migrate", "convert_path", "PathConversion"]


# ---------------------------------------------------------------------------------------------
# The report


def report_json(m: Migration) -> str:
    import json
    counts: dict[str, int] = {}
    for i in m.items:
        counts[i.status] = counts.get(i.status, 0) + 1
    return json.dumps({"summary": {"errors": len(m.errors), **counts,
                                   "objects": len(m.objects)},
                       "items": [i.as_dict() for i in m.items], "notes": m.notes},
                      indent=2) + "\n"


def report_text(m: Migration) -> str:
    lines = []
    for source in dict.fromkeys(i.source for i in m.items):
        lines.append(source)
        for i in (i for i in m.items if i.source == source):
            mark = {"error": "ERROR", "warning": "warn ", "info": "     "}[i.severity]
            where = f" ({i.file}:{i.line})" if i.file and i.line else ""
            lines.append(f"  {mark} {i.status:<12} {i.subject}: {i.why}{where}")
    lines += [f"note: {n}" for n in m.notes]
    counts = {s: sum(1 for i in m.items if i.status == s)
              for s in ("converted", "approximated", "dropped")}
    lines.append(f"{len(m.objects)} objects; " + ", ".join(f"{v} {k}" for k, v in counts.items())
                 + f"; {len(m.errors)} error(s) that make a Ray path worse")
    return "\n".join(lines) + "\n"


def report_html(m: Migration) -> str:
    from html import escape
    rows = "".join(
        f'<tr class="{escape(i.severity)}"><td>{escape(i.source)}</td><td>{escape(i.subject)}</td>'
        f"<td>{escape(i.status)}</td><td>{escape(i.severity)}</td><td>{escape(i.why)}</td>"
        f"<td>{escape(f'{i.file}:{i.line}' if i.file else '')}</td></tr>" for i in m.items)
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>raygate migrate</title>"
            "<style>body{font-family:sans-serif}td{padding:2px 8px;vertical-align:top}"
            "tr.error{background:#fdd}tr.warning{background:#ffd}</style></head><body>"
            f"<h1>raygate migrate: {len(m.errors)} error(s)</h1><table><tr><th>source</th>"
            "<th>subject</th><th>status</th><th>severity</th><th>why</th><th>where</th></tr>"
            f"{rows}</table>" + "".join(f"<p>{escape(n)}</p>" for n in m.notes) +
            "</body></html>\n")
