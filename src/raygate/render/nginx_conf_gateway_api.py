"""Gateway API objects (HTTPRoute, TCPRoute, NGINX Gateway Fabric policies) as the nginx.conf a
data plane runs, the way NGINX Gateway Fabric builds it, for the lab's ``--backend gateway-api``.

What it mirrors (Gateway API ``apis/v1/httproute_types.go`` @v1.6.1; NGINX Gateway Fabric
v2.6.7 behaviour, facts ``gateway_api_metallb.md`` §2, §4.3):

* one ``server`` per route hostname on the HTTP listener (routes without hostnames on the
  default server); HTTPS listeners are not served (the lab has no certificates: logged);
* matching as the spec defines it, which nginx's own order reproduces: ``Exact`` as
  ``location = /p``; ``PathPrefix /p`` as ``location /p/`` plus ``location = /p`` (segment-wise:
  ``/pfoo`` never matches), the longest prefix winning; the rule for each location is chosen
  with ``raygate.backends.gateway_api.routing.route`` over all rules of the host, so an Exact
  rule always beats a prefix;
* ``RequestRedirect`` as ``return <code>``, ``URLRewrite`` ``ReplacePrefixMatch`` as a
  ``rewrite ... break`` of the matched prefix, ``ReplaceFullPath`` as a full rewrite;
* WebSocket upgrades on every route (NGF maps ``$http_upgrade``);
* ``client_max_body_size`` from a ClientSettingsPolicy on the route, else nginx's ``1m``;
  ``proxy_read/send_timeout`` from a ProxySettingsPolicy, else nginx's ``60s``; HTTPRoute
  ``timeouts`` are ignored, as NGF ignores them;
* each TCPRoute as a ``stream`` server on its listener's port, with no ``proxy_timeout``:
  NGF's ``stream_servers_template.go`` @v2.6.7 writes none, so nginx's 10m default cuts a
  silent connection (``raygate migrate`` reports that as an error against a longer
  ``proxy-stream-timeout``, ``parity.tcp_idle``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from raygate.backends.gateway_api import routing, units
from raygate.objects import KubeObject
from raygate.render.nginx_conf import DEFAULT_STREAM_MODULE, NginxConf, as_objects

GROUP = "gateway.networking.k8s.io"
#: A path segment no route names, to ask which rule serves "anything under this prefix".
_UNNAMED = "/\x7f"


def _duration(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _policies(objects: Iterable[KubeObject], kind: str) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(namespace, HTTPRoute name) -> the policy spec of ``kind`` targeting it."""
    out: dict[tuple[str, str], Mapping[str, Any]] = {}
    for p in objects:
        if p.kind != kind:
            continue
        targets = list(p.spec.get("targetRefs") or [])
        if isinstance(p.spec.get("targetRef"), dict):
            targets.append(p.spec["targetRef"])
        for t in targets:
            if isinstance(t, dict) and t.get("kind") == "HTTPRoute":
                out[(p.namespace, str(t.get("name")))] = p.spec
    return out


def render_gateway_api_conf(objects: Iterable[KubeObject | Mapping[str, Any]],
                            upstreams: Mapping[str, str], *, http_port: int,
                            tcp_ports: Mapping[int, int] | None = None, prefix: str,
                            stream_module: str | None = DEFAULT_STREAM_MODULE,
                            user: str | None = None) -> NginxConf:
    """Render the objects into nginx.conf text (pure). ``upstreams`` maps
    ``"namespace/service:port"`` to the local ``"127.0.0.1:<port>"`` standing in for the
    Service; ``tcp_ports`` maps a TCP listener's port to the local port to listen on."""
    objset = as_objects(objects)
    log: list[str] = []
    gateways = list(objset.of_kind("Gateway"))
    listeners = {(g.namespace, g.name, l.get("name")): l for g in gateways
                 for l in g.spec.get("listeners") or [] if isinstance(l, dict)}
    body = _policies(objset, "ClientSettingsPolicy")
    proxy = _policies(objset, "ProxySettingsPolicy")

    # host -> [(route, rule)], rules in route order
    hosts: dict[str, list[tuple[KubeObject, Mapping[str, Any]]]] = {}
    for route in sorted(objset.of_kind("HTTPRoute"), key=lambda o: (o.namespace, o.name)):
        protocols = set()
        for ref in route.spec.get("parentRefs") or []:
            ns = ref.get("namespace") or route.namespace
            listener = listeners.get((ns, ref.get("name"), ref.get("sectionName")))
            if listener is None and ref.get("sectionName") is None:
                protocols |= {l.get("protocol") for (lns, lname, _), l in listeners.items()
                              if (lns, lname) == (ns, ref.get("name"))}
            elif listener is not None:
                protocols.add(listener.get("protocol"))
        if "HTTP" not in protocols:
            log.append(f"HTTPRoute {route.namespace}/{route.name}: not on an HTTP listener "
                       "(the lab serves plain HTTP only)")
            continue
        for host in route.spec.get("hostnames") or ["_"]:
            for rule in route.spec.get("rules") or []:
                if isinstance(rule, dict):
                    hosts.setdefault(host, []).append((route, rule))

    lines = []
    if stream_module:
        lines.append(f"load_module {stream_module};")
    if user:
        lines.append(f"user {user};")
    lines += [
        "worker_processes 1;", "daemon off;", f"pid {prefix}/nginx.pid;",
        f"error_log {prefix}/logs/error.log info;",
        "events { worker_connections 512; }",
        "http {",
        f"    client_body_temp_path {prefix}/tmp/body;",
        f"    proxy_temp_path {prefix}/tmp/proxy;",
        f"    fastcgi_temp_path {prefix}/tmp/fastcgi;",
        f"    uwsgi_temp_path {prefix}/tmp/uwsgi;",
        f"    scgi_temp_path {prefix}/tmp/scgi;",
        f"    access_log {prefix}/logs/access.log;",
        "    map $http_upgrade $connection_upgrade { default upgrade; '' close; }",
        # Redirect Locations carry the port the client used (the lab's random port).
        "    absolute_redirect off;",
    ]
    if "_" not in hosts:
        hosts["_"] = []
    for host in sorted(hosts, key=lambda h: (h != "_", h)):
        entries = hosts[host]
        rules = [r for _, r in entries]
        default = " default_server" if host == "_" else ""
        lines += ["    server {", f"        listen 127.0.0.1:{http_port}{default};",
                  f"        server_name {host};"]
        locations: dict[str, str] = {}  # nginx location spec -> the path that decides its rule
        for rule in rules:
            for m in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                path = (m.get("path") or {}) if isinstance(m, dict) else {}
                kind, value = path.get("type", "PathPrefix"), path.get("value", "/")
                if not isinstance(value, str):
                    continue
                if kind == "Exact":
                    locations.setdefault(f"= {value}", value)
                elif kind == "PathPrefix":
                    # The probe for a prefix location is a path only that prefix can serve
                    # (a segment no Exact match or longer prefix names).
                    bare = value.rstrip("/")
                    if bare:
                        locations.setdefault(f"= {bare}", bare)
                        locations.setdefault(f"{bare}/", bare + _UNNAMED)
                    else:
                        locations.setdefault("/", _UNNAMED)
                else:
                    log.append(f"host {host}: {kind} match {value} not rendered")
        locations.setdefault("/", _UNNAMED)
        for spec_, probe in sorted(locations.items()):
            index = routing.route(rules, probe)
            lines.append(f"        location {spec_} {{")
            if index is None:
                lines.append("            return 404;")
            else:
                route, rule = entries[index]
                lines += ["            " + l for l in _action(route, rule, upstreams, body,
                                                             proxy, log)]
            lines.append("        }")
        lines.append("    }")
    lines.append("}")

    stream, stream_ports = _stream(objset, listeners, upstreams, tcp_ports or {}, log)
    if stream:
        lines += ["stream {"] + stream + ["}"]
    return NginxConf("\n".join(lines) + "\n", http_port, stream_ports, log)


def _action(route: KubeObject, rule: Mapping[str, Any], upstreams: Mapping[str, str],
            body: Mapping[tuple[str, str], Mapping[str, Any]],
            proxy: Mapping[tuple[str, str], Mapping[str, Any]], log: list[str]) -> list[str]:
    for f in routing.filters_of(rule, "RequestRedirect"):
        r = f.get("requestRedirect") or {}
        code = r.get("statusCode", 302)
        path = (r.get("path") or {}).get("replaceFullPath") or "$request_uri"
        if r.get("scheme") or r.get("hostname") or r.get("port"):
            scheme = r.get("scheme") or "$scheme"
            host = r.get("hostname") or "$host"
            port = f":{r['port']}" if r.get("port") else ""
            return [f"return {code} {scheme}://{host}{port}{path};"]
        return [f"return {code} {path};"]
    refs = rule.get("backendRefs") or []
    ref = refs[0] if refs and isinstance(refs[0], dict) else None
    if ref is None:
        return ["return 500;"]
    ns = ref.get("namespace") or route.namespace
    addr = upstreams.get(f"{ns}/{ref.get('name')}:{ref.get('port')}")
    if addr is None:
        log.append(f"HTTPRoute {route.namespace}/{route.name}: backend {ns}/{ref.get('name')}:"
                   f"{ref.get('port')} has no endpoint in the lab")
        return ["return 500;"]
    out = []
    match = (rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}])[0]
    matched = ((match.get("path") or {}).get("value") or "/").rstrip("/")
    replacement = routing.prefix_replacement(rule)
    for f in routing.filters_of(rule, "URLRewrite"):
        path = (f.get("urlRewrite") or {}).get("path") or {}
        if path.get("type") == "ReplaceFullPath":
            out.append(f"rewrite ^ {path.get('replaceFullPath', '/')} break;")
    if replacement is not None:
        # The spec's table: /p/x -> R + x when R ends with "/", else R + /x; /p -> R or "/".
        if replacement.endswith("/"):
            out.append(f"rewrite ^{matched}/?(.*)$ {replacement}$1 break;")
        else:
            out.append(f"rewrite ^{matched}(/.*)?$ {replacement or ''}$1 break;")
    settings = body.get((route.namespace, route.name)) or {}
    size = (settings.get("body") or {}).get("maxSize") if isinstance(settings, Mapping) else None
    timeouts = (proxy.get((route.namespace, route.name)) or {}).get("timeout") or {}
    out += [
        f"client_max_body_size {size if isinstance(size, str) else '1m'};",
        f"proxy_read_timeout {_duration(timeouts.get('read'), '60s')};",
        f"proxy_send_timeout {_duration(timeouts.get('send'), '60s')};",
        "proxy_http_version 1.1;",
        "proxy_set_header Host $host;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        f"proxy_pass http://{addr};",
    ]
    return out


def _stream(objset: Any, listeners: Mapping[tuple[str, str, Any], Mapping[str, Any]],
            upstreams: Mapping[str, str], tcp_ports: Mapping[int, int],
            log: list[str]) -> tuple[list[str], dict[int, int]]:
    lines: list[str] = []
    ports: dict[int, int] = {}
    for route in sorted(objset.of_kind("TCPRoute"), key=lambda o: (
            str(o.metadata.get("creationTimestamp") or ""), o.namespace, o.name)):
        for ref in route.spec.get("parentRefs") or []:
            ns = ref.get("namespace") or route.namespace
            listener = listeners.get((ns, ref.get("name"), ref.get("sectionName")))
            if listener is None or listener.get("protocol") != "TCP":
                log.append(f"TCPRoute {route.namespace}/{route.name}: no TCP listener "
                           f"{ref.get('sectionName')}")
                continue
            port = listener.get("port")
            if port in ports:
                log.append(f"TCPRoute {route.namespace}/{route.name}: listener port {port} "
                           "already carries an older TCPRoute (only the oldest is attached)")
                continue
            backend = ((route.spec.get("rules") or [{}])[0].get("backendRefs") or [{}])[0]
            bns = backend.get("namespace") or route.namespace
            addr = upstreams.get(f"{bns}/{backend.get('name')}:{backend.get('port')}")
            if addr is None:
                log.append(f"TCPRoute {route.namespace}/{route.name}: backend "
                           f"{bns}/{backend.get('name')}:{backend.get('port')} has no endpoint")
                continue
            listen = tcp_ports.get(port, port)
            ports[port] = listen
            lines += [f"    server {{", f"        listen 127.0.0.1:{listen};",
                      f"        proxy_pass {addr};", "    }"]
    return lines, ports


__all__ = ["render_gateway_api_conf"]
