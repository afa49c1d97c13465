"""RG212 ray-client-over-http-ingress: the Ray Client port behind an HTTP Ingress path.

Ray Client (``ray://``, head port 10001) is gRPC: HTTP/2 with fixed method paths such as
``/ray.rpc.RayletDriver/Init`` and no path-prefix option, so it can never live under a URL
prefix like ``/ray-client`` (facts: kuberay_ray.md §6, ray-project/ray#26167 in anchors.md).
Through ingress-nginx's default ``backend-protocol: HTTP`` the controller even proxies it as
HTTP/1.1, which a gRPC server cannot answer. Either way the client only reports
``ConnectionError: ray client connection timeout`` after 30 s (feasibility.md §A). What works:
an L4 tcp-services entry (the seed guide's fix), ``ssl-passthrough`` on a dedicated host (only
with the controller flag ``--enable-ssl-passthrough``, off by default, and only for the ``/``
location: ingress_nginx.md §4.3), or ``backend-protocol: GRPC`` at ``/`` on a host whose other
paths do not capture the gRPC method paths, with ``enable-underscores-in-headers`` on because
the client's ``client_id`` metadata contains an underscore (kuberay_ray.md §6).

The head behind the route comes from model/heads.py, so a head KubeRay does not run counts too:
ray-project/ray#26167 routed ``/<release>/api(/|$)(.*)`` with ``backend-protocol: GRPC`` to the
old Ray chart's ``<release>-ray-head:10001`` and timed out. On a head recognised from port
numbers alone the finding is a warning and says so.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate.model.exposure import Exposure
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

TIMEOUT = "ConnectionError: ray client connection timeout"
#: A method every Ray Client connection calls first (python/ray/util/client).
GRPC_PROBE_PATH = "/ray.rpc.RayletDriver/Init"
TCP_FIX = ("Expose the Ray Client port through the tcp-services ConfigMap "
           '(e.g. "10001": "<namespace>/<head-svc>:10001") and connect with ray://<gateway>:10001 '
           "instead of an HTTP Ingress path.")


@rule(
    code="RG212",
    name="ray-client-over-http-ingress",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    title="Ray Client port routed through an HTTP Ingress path",
    rationale="""
        The Ray Client (`ray.init("ray://...")`, head port 10001) speaks gRPC: HTTP/2 with
        fixed method paths like `/ray.rpc.RayletDriver/Init` and no way to add a URL prefix.
        An Ingress path such as `/client` never sees those calls, and with the default
        `backend-protocol: HTTP` ingress-nginx proxies as HTTP/1.1, which a gRPC server does
        not speak. The client does not say why; it retries for 30 seconds and raises
        `ConnectionError: ray client connection timeout`. The dependable route is the
        tcp-services ConfigMap (plain TCP, no HTTP parsing). A dedicated TLS host also works
        with `ssl-passthrough` (needs the controller flag `--enable-ssl-passthrough`, off by
        default) or with `backend-protocol: GRPC` at `/` plus
        `enable-underscores-in-headers: "true"` in the controller ConfigMap, since the
        client's `client_id` metadata header contains an underscore that nginx drops.
    """,
    fix=TCP_FIX,
    references=(
        "https://docs.ray.io/en/latest/cluster/running-applications/job-submission/ray-client.html",
        "https://kubernetes.github.io/ingress-nginx/user-guide/exposing-tcp-udp-services/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#ssl-passthrough",
        "https://docs.ray.io/en/latest/cluster/kubernetes/k8s-ecosystem/ingress.html",
    ),
    errors=(
        TIMEOUT,
        "Ignoring SSL Passthrough for location <path> in server <host>",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for route in _http.ray_routes(ctx.objects, obj, "client", any_controller=True):
        plane = dataplane.for_ingress(ctx.objects, obj)
        if not plane.is_ingress_nginx:
            yield from _elsewhere(ctx, obj, route, plane)
            continue
        problem = _problem(ctx, obj, route)
        if problem is not None:
            message, fix, assumption = problem
            note, severity = "", None
            if route.head is not None and not route.head.certain:
                # Port 10001 alone may be another program's: broken only if it is Ray.
                note = f"{route.head.note()}"
                severity = "warning" if route.head.confidence == "possible" else None
            yield ctx.finding(obj, _http.path_field(route),
                              f"Ray Client route {_http.describe_route(route)}: "
                              f"{message}{note}", fix=fix, assumption=assumption,
                              severity=severity)


def _elsewhere(ctx: Context, obj: KubeObject, route: Exposure,
               plane: dataplane.DataPlane) -> Iterable[Finding]:
    """Another controller (or an unknown one): only what holds on any HTTP proxy is judged."""
    path = route.path if isinstance(route.path, str) and route.path else "/"
    knob = plane.profile.tcp_knob if plane.profile is not None and plane.profile.tcp_knob else \
        "a TCP entry point (a LoadBalancer Service or the controller's TCP routing)"
    fix = f"Expose the Ray Client port 10001 over TCP: {knob}; connect with ray://<address>:10001."
    if path.rstrip("/") not in ("", "/"):
        yield ctx.finding(
            obj, _http.path_field(route),
            f"Ray Client route {_http.describe_route(route)} ({plane.describe()}): Ray Client is "
            f"gRPC with fixed method paths such as {GRPC_PROBE_PATH} and no path-prefix option, "
            f"so under {path} no call reaches it and the client fails with \"{TIMEOUT}\"",
            fix=fix)
        return
    yield ctx.finding(
        obj, _http.path_field(route),
        f"Ray Client route {_http.describe_route(route)} ({plane.describe()}): Ray Client is gRPC "
        "over HTTP/2 and works through an HTTP Ingress only if the proxy speaks HTTP/2 gRPC to "
        "the head and passes its client_id metadata; an HTTP/1.1 hop fails with "
        f"\"{TIMEOUT}\"", severity="warning", fix=fix)


def _problem(ctx: Context, obj: KubeObject, route: Exposure) -> tuple[str, str, str | None] | None:
    controller = _http.controller(ctx.objects, obj)
    assert controller is not None  # check() sends only ingress-nginx routes here
    assumption = controller.assumed
    path = route.path if isinstance(route.path, str) and route.path else "/"
    host = route.host if isinstance(route.host, str) and route.host else None
    if _http.go_bool(_http.annotation(obj, "ssl-passthrough")):
        return _passthrough_problem(controller, path, host, assumption)
    protocol = (_http.annotation(obj, "backend-protocol") or "HTTP").strip().upper()
    if protocol not in ("GRPC", "GRPCS"):
        return (f"nginx proxies it as {protocol} (HTTP/1.1 upstream) under path {path}, but Ray "
                f"Client is gRPC over HTTP/2 with fixed method paths ({GRPC_PROBE_PATH}); "
                f'ray.init("ray://...") retries for 30 s and fails with "{TIMEOUT}"',
                TCP_FIX, None)
    found = _http.route_location(ctx.objects, obj, route)
    if found is not None:
        server, own = found
        hit = server.match(GRPC_PROBE_PATH)
        if hit is not own:
            other = "no location" if hit is None else \
                f"Ingress {hit.ingress.namespace}/{hit.ingress.name} (path {hit.original_path})"
            return (f"gRPC calls use fixed paths such as {GRPC_PROBE_PATH}, which path {path} "
                    f"does not cover (on this host they reach {other}); the client fails with "
                    f'"{TIMEOUT}"', TCP_FIX, None)
        rewritten = _http.rewritten_uri(own, GRPC_PROBE_PATH)
        if rewritten != GRPC_PROBE_PATH:
            return (f"rewrite-target {own.rewrite} rewrites the gRPC method path "
                    f"{GRPC_PROBE_PATH} to {rewritten or '/'}, so the Ray Client server gets "
                    "calls it does not know "
                    f'and the client fails with "{TIMEOUT}"',
                    "Remove rewrite-target from the Ray Client Ingress (gRPC paths must reach "
                    "the server unchanged), or use the tcp-services ConfigMap instead.", None)
    if controller.setting("enable-underscores-in-headers").strip().lower() != "true":
        source = controller.setting_source("enable-underscores-in-headers")
        return ("gRPC at / reaches the Ray Client server, but nginx drops request headers with "
                "underscores (enable-underscores-in-headers is "
                f"{controller.setting('enable-underscores-in-headers')}: {source}), so the "
                "client's client_id metadata never arrives and calls fail with "
                "StatusCode.INVALID_ARGUMENT",
                'Set enable-underscores-in-headers: "true" in the ingress-nginx controller '
                "ConfigMap, or use the tcp-services ConfigMap instead.", assumption)
    return None


def _passthrough_problem(controller: nginx.Controller, path: str, host: str | None,
                         assumption: str | None) -> tuple[str, str, str | None] | None:
    flag = controller.flags.get("--enable-ssl-passthrough", "false").strip().lower()
    if flag != "true":
        where = (f"controller {controller.workload.namespace}/{controller.workload.name} runs "
                 "without it" if controller.workload is not None else "it is off by default")
        return ("ssl-passthrough is ignored unless the controller has the flag "
                f"--enable-ssl-passthrough ({where}), so nginx treats the host as an ordinary "
                f'HTTP route and the client fails with "{TIMEOUT}"',
                "Add --enable-ssl-passthrough to the ingress-nginx controller args, or use the "
                "tcp-services ConfigMap instead.", assumption)
    if host is None:
        return ("ssl-passthrough routes by the TLS SNI host name, and this rule has no host; "
                f'the client fails with "{TIMEOUT}"',
                "Give the Ray Client Ingress rule a dedicated host, or use the tcp-services "
                "ConfigMap instead.", None)
    if path != "/":
        return (f'the controller logs "Ignoring SSL Passthrough for location \\"{path}\\" in '
                f'server \\"{host}\\"": passthrough only uses the / location, so the client fails '
                f'with "{TIMEOUT}"',
                f"Use path / for the ssl-passthrough host {host}, or use the tcp-services "
                "ConfigMap instead.", None)
    return None
