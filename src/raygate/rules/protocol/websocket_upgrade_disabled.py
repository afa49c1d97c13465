"""RG213 websocket-upgrade-disabled: a Dashboard route that cannot upgrade to WebSocket.

Every ingress-nginx location sends ``Upgrade $http_upgrade`` and ``Connection
$connection_upgrade`` upstream over HTTP/1.1, so WebSockets work by default (facts:
ingress_nginx.md §5). Two annotations undo that: ``connection-proxy-header`` (only ``close`` or
``keep-alive`` are accepted) replaces the ``Connection`` value, and ``proxy-http-version:
"1.0"`` speaks a protocol version without upgrades; the same key in the controller ConfigMap
does it for every route. ``ray job submit`` then submits the job (plain POST) and fails while
tailing its logs over ``/api/jobs/<id>/logs/tail`` with ``aiohttp...WSServerHandshakeError``,
exit code 1 (reproduced through real nginx, feasibility.md §B; kuberay_ray.md §5.2).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

HANDSHAKE = ("aiohttp.client_exceptions.WSServerHandshakeError: <status>, "
             "message='Invalid response status'")


@rule(
    code="RG213",
    name="websocket-upgrade-disabled",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Dashboard route that cannot upgrade to WebSocket",
    rationale="""
        `ray job submit` (without `--no-wait`) and `ray job logs -f` follow job output over a
        WebSocket at `/api/jobs/<id>/logs/tail`. ingress-nginx forwards the `Upgrade` and
        `Connection: upgrade` headers by default, but
        `nginx.ingress.kubernetes.io/connection-proxy-header: "close"` (or `"keep-alive"`)
        overwrites the `Connection` header and `proxy-http-version: "1.0"` uses an HTTP
        version without upgrades. The job is still submitted, because submission is a plain
        POST, but the CLI then fails with `WSServerHandshakeError` and exits 1, so CI
        pipelines report a failure for a job that is running. The Dashboard's own log views
        break the same way.
    """,
    fix=("Remove the connection-proxy-header and proxy-http-version annotations from the "
         "Dashboard Ingress so nginx forwards Connection: upgrade over HTTP/1.1."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/miscellaneous/#websockets",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#connection-proxy-header",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#proxy-http-version",
    ),
    errors=(
        HANDSHAKE,
        "WSServerHandshakeError",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    routes = _http.ray_routes(ctx.objects, obj, "dashboard")
    if not routes:
        return
    where = ", ".join(_http.describe_route(r) for r in routes)
    consequence = ("`ray job submit` submits the job, then fails while tailing its logs with "
                   "aiohttp.client_exceptions.WSServerHandshakeError (observed: 500, "
                   "message='Invalid response status') and exits 1")
    header = _http.annotation(obj, "connection-proxy-header")
    # The validator is ^(close|keep-alive)$: other values are refused and change nothing.
    if header is not None and header in ("close", "keep-alive"):
        yield ctx.finding(
            obj, ("metadata", "annotations", _http.annotation_key("connection-proxy-header")),
            f'connection-proxy-header "{header}" makes nginx send "Connection: {header}" '
            f"instead of \"Connection: upgrade\" on {where}, so the Dashboard cannot accept "
            f"WebSockets: {consequence}",
            fix="Remove nginx.ingress.kubernetes.io/connection-proxy-header from the Dashboard Ingress.")
    version = _http.annotation(obj, "proxy-http-version")
    if version is not None and version.strip() == "1.0":
        yield ctx.finding(
            obj, ("metadata", "annotations", _http.annotation_key("proxy-http-version")),
            f'proxy-http-version "1.0" makes nginx talk HTTP/1.0 to the Dashboard on {where}, '
            f"and HTTP/1.0 has no protocol upgrade: {consequence}",
            fix="Remove nginx.ingress.kubernetes.io/proxy-http-version (or set it to \"1.1\").")
    elif version is None or version.strip() not in ("1.0", "1.1"):
        controller = _http.controller(ctx.objects, obj)
        if controller.config.get("proxy-http-version", "").strip() == "1.0":
            yield ctx.finding(
                obj, _http.path_field(routes[0]),
                f'proxy-http-version is "1.0" in {controller.setting_source("proxy-http-version")}, '
                f"so nginx talks HTTP/1.0 to the Dashboard on {where}, and HTTP/1.0 has no "
                f"protocol upgrade: {consequence}",
                fix=('Set nginx.ingress.kubernetes.io/proxy-http-version: "1.1" on the Dashboard '
                     'Ingress, or remove proxy-http-version from the controller ConfigMap.'))
