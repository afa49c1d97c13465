"""Render ingress-nginx objects into the nginx.conf the controller would run, for the lab.

The lab rehearses the real data plane on one machine. Instead of hand-writing an nginx.conf
(which would prove only that our hand-written config works), it takes the very objects
``raygate render`` produces (Ingresses, the tcp-services ConfigMap, the controller ConfigMap
and Deployment patch) and turns them into nginx.conf the way the ingress-nginx controller's
template does, so a mistake in the objects shows up as the same failure a user would see.

Fidelity, against ``shared/facts/ingress_nginx.md`` section 4 (and sections 3 and 5). Servers,
locations, their order and Prefix normalisation come from the one location model the rules use,
``raygate.backends.ingress_nginx_locations``; this module only writes them out as text.

Mirrored
  * one ``server`` per host (``server_name _`` for rules without a host, the default server);
    every server listens on the same HTTP port and is picked by Host, like port 80 upstream;
  * regex enforcement per host (§4.1 ``enforceRegexModifier``): when any Ingress of a host
    sets ``rewrite-target`` (different from the path) or ``use-regex: "true"``, every path of
    that host, from every Ingress, becomes ``location ~* "^<path>"`` (case-insensitive,
    anchored only at the start); otherwise Exact is ``location = "<path>"`` and
    Prefix/ImplementationSpecific is ``location "<path>/"`` plus an exact ``= "<path>"``;
  * locations ordered by descending path length (regex locations are first-match, §4.1);
  * ``rewrite "(?i)<path>" <target> break;`` and ``X-Forwarded-Prefix`` only in the rewrite
    branch; ``permanent-redirect`` (301, or ``permanent-redirect-code`` 300-308) and
    ``temporal-redirect`` (302) as ``return``;
  * ``client_max_body_size`` from ``proxy-body-size``: annotation > controller ConfigMap >
    ``1m`` (§5), an annotation failing the size validator silently falls back (§2.3);
  * ``proxy_read_timeout``/``proxy_send_timeout``/``proxy_connect_timeout`` (unit-less
    seconds, §5), ``proxy_buffering off``, ``proxy_request_buffering on``, HTTP/1.1 upstream;
  * WebSocket: every location sends ``Upgrade $http_upgrade`` and ``Connection
    $connection_upgrade`` (§5, "Allow websocket connections"); ``connection-proxy-header``
    (``close``/``keep-alive`` only) replaces the Connection value;
  * ``allowlist-source-range`` / ``whitelist-source-range`` as ``allow``/``deny all``;
  * ``enable-underscores-in-headers`` -> ``underscores_in_headers``;
  * a backend Service without a local upstream answers 503 and logs the controller's
    ``Service "<ns>/<svc>" does not have any active Endpoint.``; unmatched paths 404 (the
    default backend);
  * ``stream {}``: one server per tcp-services entry, upstream ``tcp-<ns>-<svc>-<port>``,
    ``proxy_timeout`` from ``proxy-stream-timeout`` (600s), ``proxy_next_upstream*`` as
    upstream, ``:PROXY`` fields (§3.1); malformed entries and reserved ports are skipped with
    the controller's log lines, and entries whose Service has no local upstream are dropped
    with ``Service "<ns>/<svc>" does not have any active Endpoint for TCP port <port>``
    (§3.2: no listener at all, as upstream).

Not mirrored (documented in ``docs/lab.md``)
  * snippet annotations are never rendered (the lab refuses them earlier, like the webhook);
  * risk-level checks and the admission webhook (the lab runs the rule catalog instead);
  * TLS, ``ssl-redirect``, HTTP/2, auth-* annotations, canary, affinity, rate limits, Lua
    balancing (one static ``upstream`` per Service port with upstream keepalive instead);
  * listens are on 127.0.0.1 high ports instead of :80 and the external TCP ports, so
    redirects are relative (``absolute_redirect off``) where upstream would name port 80.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from raygate.backends import ingress_nginx as ingx
from raygate.backends import ingress_nginx_locations as locations
from raygate.model import dataplane
from raygate.objects import KubeObject, ObjectSet, Origin

#: Debian's nginx builds the stream module as a dynamic module (feasibility.md §B).
DEFAULT_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
_INT_RE = re.compile(r"^\d+$")
# Conservative URL shape for redirect targets; anything else is ignored like an invalid value.
_REDIRECT_URL_RE = re.compile(r"^[A-Za-z0-9\-._~/:?&=%#+]+$")


@dataclass(frozen=True)
class StreamServer:
    external_port: int
    listen_port: int
    upstream_name: str
    upstream_addr: str
    proxy_decode: bool
    proxy_encode: bool


@dataclass
class NginxConf:
    """The rendered configuration plus what the controller would have logged."""

    text: str
    http_port: int
    #: external (tcp-services key) port -> local listen port, for entries actually rendered.
    stream_ports: dict[int, int] = field(default_factory=dict)
    #: Controller-style log lines (dropped entries, missing endpoints).
    log: list[str] = field(default_factory=list)


def as_objects(items: Iterable[KubeObject | Mapping[str, Any]]) -> ObjectSet:
    """Accept KubeObjects or plain dicts (as ``raygate render`` returns them)."""
    objs = [i if isinstance(i, KubeObject) else KubeObject(dict(i), Origin("<rendered>"))
            for i in items if i]
    return ObjectSet(objs)


def quote(value: str) -> str:
    """``sanitizeQuotedRegex``: escape backslash and double quote, then double-quote."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ann(ing: KubeObject, name: str) -> str | None:
    value = ing.annotations.get(ingx.PREFIX + name)
    return None if value is None else str(value).strip()


def _upstream_name(ns: str, svc: str, port: str) -> str:
    return f"{ns}-{svc}-{port}"


def _size(ing: KubeObject, controller: ingx.Controller) -> str:
    # The controller's own answer (annotation validator, ConfigMap, nginx.tmpl's
    # isValidByteSize guard): the lab's nginx gets what the controller would write.
    return ingx.body_size(controller, _ann(ing, "proxy-body-size")).effective


def _seconds(ing: KubeObject, controller: ingx.Controller, key: str) -> str:
    value = _ann(ing, key)
    if value is not None and _INT_RE.match(value):
        return f"{int(value)}s"
    cm = controller.setting(key).strip()
    if _INT_RE.match(cm):
        return f"{int(cm)}s"
    return cm or f"{ingx.CONFIG_DEFAULTS.get(key, '60')}s"


def _allowlist(ing: KubeObject) -> list[str]:
    value = _ann(ing, "allowlist-source-range") or _ann(ing, "whitelist-source-range")
    if not value:
        return []
    cidrs = []
    for part in value.split(","):
        try:
            cidrs.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            continue
    return cidrs


def _redirect(ing: KubeObject) -> tuple[int, str] | None:
    url = _ann(ing, "permanent-redirect")
    if url and _REDIRECT_URL_RE.match(url):
        code_s = _ann(ing, "permanent-redirect-code") or ""
        code = int(code_s) if code_s.isdigit() and 300 <= int(code_s) <= 308 else 301
        return code, url
    url = _ann(ing, "temporal-redirect")
    if url and _REDIRECT_URL_RE.match(url) and url.startswith(("http://", "https://")):
        code_s = _ann(ing, "temporal-redirect-code") or ""
        code = int(code_s) if code_s.isdigit() and 300 <= int(code_s) <= 307 else 302
        return code, url
    return None


def _default_block(enforce_regex: bool) -> list[str]:
    """The default backend's ``/`` (404) on a server without a ``/`` path of its own."""
    head = f"location ~* {quote('^/')}" if enforce_regex else f"location {quote('/')}"
    return [f"{head} {{", "    return 404;", "}"]


def _location_block(loc: locations.Location, enforce_regex: bool, controller: ingx.Controller,
                    upstream: str | None, service_ref: str) -> list[str]:
    ing = loc.ingress
    if enforce_regex:
        head = f"location ~* {quote('^' + loc.path)}"
    elif loc.exact:
        head = f"location = {quote(loc.path)}"
    else:
        head = f"location {quote(loc.path)}"
    body: list[str] = []
    body.append(f"# {ing.ref} -> {service_ref}")
    cidrs = _allowlist(ing)
    for cidr in cidrs:
        body.append(f"allow {cidr};")
    if cidrs:
        body.append("deny all;")
    body.append(f"client_max_body_size {_size(ing, controller)};")
    redirect = _redirect(ing)
    if redirect is not None:
        # nginx.tmpl returns before any proxying when a redirect annotation is set.
        body.append(f"return {redirect[0]} {quote(redirect[1])};")
        return [f"{head} {{", *("    " + b for b in body), "}"]
    if upstream is None:
        # The controller points such a location at an upstream with no servers -> 503.
        body.append("return 503;")
        return [f"{head} {{", *("    " + b for b in body), "}"]
    connection = (_ann(ing, "connection-proxy-header") or "").lower()
    connection_value = connection if connection in ("close", "keep-alive") else "$connection_upgrade"
    body += [
        "proxy_http_version 1.1;",
        f"proxy_connect_timeout {_seconds(ing, controller, 'proxy-connect-timeout')};",
        f"proxy_read_timeout {_seconds(ing, controller, 'proxy-read-timeout')};",
        f"proxy_send_timeout {_seconds(ing, controller, 'proxy-send-timeout')};",
        "proxy_buffering off;",
        "proxy_request_buffering on;",
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Host $http_host;",
        "proxy_set_header X-Forwarded-Port $server_port;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Scheme $scheme;",
        # "Allow websocket connections" in nginx.tmpl: sent on every location.
        "proxy_set_header Upgrade $http_upgrade;",
        f"proxy_set_header Connection {connection_value};",
    ]
    if loc.needs_rewrite and loc.rewrite:
        body.append(f"rewrite {quote('(?i)' + loc.path)} {loc.rewrite} break;")
        prefix = _ann(ing, "x-forwarded-prefix")
        if prefix and ingx.REGEX_PATH_WITH_CAPTURE_RE.match(prefix):
            body.append(f"proxy_set_header X-Forwarded-Prefix {quote(prefix)};")
    body.append(f"proxy_pass http://{upstream};")
    return [f"{head} {{", *("    " + b for b in body), "}"]


def render_nginx_conf(objects: Iterable[KubeObject | Mapping[str, Any]],
                      upstreams: Mapping[str, str], *, http_port: int,
                      tcp_ports: Mapping[int, int] | None = None, prefix: str,
                      stream_module: str | None = DEFAULT_STREAM_MODULE,
                      worker_connections: int = 512, user: str | None = None) -> NginxConf:
    """Render the objects into nginx.conf text (pure: no files, no processes).

    ``upstreams`` maps ``"namespace/service:port"`` (port number or name) to the local
    ``"127.0.0.1:<port>"`` that stands in for the Service's endpoints. ``tcp_ports`` maps a
    tcp-services external port to the local port the lab listens on (default: the same
    port). ``prefix`` is the nginx prefix directory (pid, logs and temp files go under it).
    ``user`` sets the workers' user (only meaningful when nginx starts as root).
    """
    objset = as_objects(objects)
    log: list[str] = []
    ingresses = sorted((o for o in objset.of_kind("Ingress") if ingx.is_ingress(o)),
                       key=lambda o: (o.namespace, o.name))
    first_controller = ingx.controller_for_class(objset, None)

    upstream_defs: dict[str, str] = {}
    for ing in ingresses:
        for _, entry, _host in ingx.ingress_paths(ing):
            svc, port = ingx.backend_service(entry)
            addr = upstreams.get(f"{ing.namespace}/{svc}:{port}") if svc and port else None
            if addr:
                upstream_defs[_upstream_name(ing.namespace, str(svc), str(port))] = addr
            elif _redirect(ing) is None:
                log.append(f'Service "{ing.namespace}/{svc}" does not have any active Endpoint.')
    # The one location model (backends/ingress_nginx_locations): the lab runs one controller.
    servers = {host: server for (_, host), server in
               locations.build_servers((first_controller, ing) for ing in ingresses).items()}
    hosts = sorted({*servers, "_"}, key=lambda h: (h != "_", h))
    lines: list[str] = []
    if stream_module:
        lines.append(f"load_module {stream_module};")
    lines += [
        "# Rendered by raygate from ingress-nginx objects (raygate.render.nginx_conf).",
        "daemon off;",
        *([f"user {user};"] if user else []),
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/logs/error.log info;",
        f"events {{ worker_connections {worker_connections}; }}",
        "http {",
        f"    access_log {prefix}/logs/access.log;",
        f"    client_body_temp_path {prefix}/tmp/body;",
        f"    proxy_temp_path {prefix}/tmp/proxy;",
        f"    fastcgi_temp_path {prefix}/tmp/fastcgi;",
        f"    uwsgi_temp_path {prefix}/tmp/uwsgi;",
        f"    scgi_temp_path {prefix}/tmp/scgi;",
        "    server_tokens on;",
        "    absolute_redirect off;",
        f"    underscores_in_headers "
        f"{'on' if first_controller.setting('enable-underscores-in-headers') == 'true' else 'off'};",
        "    ignore_invalid_headers on;",
        # upstream-keepalive-connections > 0 (default 320) selects this map (§5).
        "    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
    ]
    for name, addr in sorted(upstream_defs.items()):
        lines += [f"    upstream {name} {{", f"        server {addr} max_fails=0;",
                  "        keepalive 320;", "        keepalive_time 1h;",
                  "        keepalive_timeout 60s;", "        keepalive_requests 10000;", "    }"]
    for host in hosts:
        server = servers.get(host)
        # spec.defaultBackend is not rendered: the lab's default server answers 404 there.
        locs = [loc for loc in server.locations if not loc.is_default_backend] if server else []
        enforce = server.regex if server is not None else False
        listen = f"127.0.0.1:{http_port}" + (" default_server" if host == "_" else "")
        lines += ["    server {", f"        server_name {host};", f"        listen {listen};"]
        seen: set[tuple[str, str]] = set()
        for loc in locs:
            key = (loc.path, "regex" if enforce else "Exact" if loc.exact else "Prefix")
            if key in seen:  # first Ingress wins on a duplicate host/path, like the webhook
                continue
            seen.add(key)
            controller = dataplane.controller_of(objset, loc.ingress) or first_controller
            ns = loc.ingress.namespace
            ref = f"{ns}/{loc.service}:{loc.port}"
            upstream = (_upstream_name(ns, str(loc.service), str(loc.port))
                        if loc.service and loc.port and upstreams.get(ref) else None)
            lines += ["        " + text
                      for text in _location_block(loc, enforce, controller, upstream, ref)]
        if not any(loc.path == "/" for loc in locs):
            lines += ["        " + text for text in _default_block(enforce)]
        lines.append("    }")
    lines.append("}")

    stream, stream_ports = _stream_servers(objset, upstreams, tcp_ports or {}, log)
    if stream:
        timeout = first_controller.setting("proxy-stream-timeout") or "600s"
        if _INT_RE.match(timeout):
            timeout += "s"
        lines += ["stream {",
                  "    log_format raygate '$remote_addr [$time_local] $server_port $status "
                  "sent=$bytes_sent recv=$bytes_received dur=$session_time';",
                  f"    access_log {prefix}/logs/stream.log raygate;"]
        for s in stream:
            lines += [f"    upstream {s.upstream_name} {{", f"        server {s.upstream_addr};",
                      "    }",
                      "    server {",
                      f"        listen 127.0.0.1:{s.listen_port}"
                      f"{' proxy_protocol' if s.proxy_decode else ''};",
                      f"        proxy_timeout {timeout};",
                      "        proxy_next_upstream on;",
                      "        proxy_next_upstream_timeout 600s;",
                      "        proxy_next_upstream_tries 3;",
                      f"        proxy_pass {s.upstream_name};"]
            if s.proxy_encode:
                lines.append("        proxy_protocol on;")
            lines.append("    }")
        lines.append("}")
    return NginxConf("\n".join(lines) + "\n", http_port, stream_ports, log)


def _stream_servers(objset: ObjectSet, upstreams: Mapping[str, str],
                    tcp_ports: Mapping[int, int], log: list[str]) -> tuple[list[StreamServer], dict[int, int]]:
    controllers = ingx.find_controllers(objset)
    refs = {c.tcp_services_ref for c in controllers if c.tcp_services_ref}
    if controllers:
        # A controller in the inputs reads only the ConfigMap its flag names (none -> none).
        maps = [cm for cm in objset.of_kind("ConfigMap") if f"{cm.namespace}/{cm.name}" in refs]
    else:
        maps = ingx.tcp_services_configmaps(objset)
    controller = controllers[0] if controllers else ingx.controller_for_class(objset, None)
    reserved = controller.reserved_ports
    servers: list[StreamServer] = []
    ports: dict[int, int] = {}
    for cm in maps:
        for entry in sorted(ingx.tcp_entries(cm), key=lambda e: e.key):
            if entry.error:
                log.append(entry.error)
                continue
            assert entry.external_port is not None
            if entry.external_port in reserved:
                log.append(f"Port {entry.external_port} cannot be used for TCP stream services. "
                           "It is reserved for the Ingress controller.")
                continue
            addr = upstreams.get(f"{entry.namespace}/{entry.service}:{entry.port}")
            if not addr:
                log.append(f'Service "{entry.namespace}/{entry.service}" does not have any '
                           f"active Endpoint for TCP port {entry.port}")
                continue
            listen = tcp_ports.get(entry.external_port, entry.external_port)
            if entry.external_port in ports:
                continue
            ports[entry.external_port] = listen
            servers.append(StreamServer(entry.external_port, listen,
                                        f"tcp-{entry.namespace}-{entry.service}-{entry.port}",
                                        addr, entry.proxy_decode, entry.proxy_encode))
    return servers, ports
