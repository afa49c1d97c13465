"""RG214 dashboard-short-controller-timeout: another controller's timeout cuts Ray's long requests.

RG211 covers ingress-nginx. The other Ingress controllers Ray users run have their own
timeouts, read from their profile (``raygate.backends.ingress_classes``), each with the knob that
raises it:

* AWS Load Balancer Controller: the ALB closes a connection idle for
  ``idle_timeout.timeout_seconds``, 60 by default (AWS ELB docs, "Connection idle timeout"),
  set by ``alb.ingress.kubernetes.io/load-balancer-attributes`` or IngressClassParams;
* GKE Ingress: the backend service timeout, 30 s by default, is a response timeout and, for a
  WebSocket, the connection's whole lifetime (ingress-gce ``examples/websocket``); a
  BackendConfig ``timeoutSec`` raises it;
* Contour: Envoy's route timeout, 15 s by default, ``projectcontour.io/response-timeout`` (what
  it does to an upgraded WebSocket is not claimed here);
* HAProxy: ``timeout server`` 50 s (the shipped haproxy.cfg); upgraded WebSockets use
  ``timeout tunnel`` (1 h) instead, so only plain HTTP requests are cut;
* Kong: the Service's ``read_timeout``, 60000 ms (KIC ``DefaultServiceTimeout``),
  ``konghq.com/read-timeout`` on the Kubernetes Service.

The Jobs CLI follows logs over a WebSocket that is quiet whenever the job is, and Serve requests
can take minutes; the threshold is RG211's one hour. Traefik and Istio have no default cited
here, so nothing is said about them.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_classes
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

#: Same bar as RG211 (the ingress-nginx WebSocket guidance: above one hour).
MIN_SECONDS = 3600


@rule(
    code="RG214",
    name="dashboard-short-controller-timeout",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Dashboard or Serve route under another controller's timeout shorter than one hour",
    rationale="""
        `ray job submit` and `ray job logs -f` follow job output over a WebSocket to the
        Dashboard that stays silent while the job is, and Serve requests can take minutes.
        An AWS ALB closes connections idle for 60 s, GKE's load balancer ends any response
        (and any WebSocket) after 30 s, Contour's Envoy after 15 s, Kong after 60 s without
        data and HAProxy's controller after 50 s (WebSockets excepted) unless the route
        raises the limit with that controller's own setting. The job keeps running, but the
        CLI loses its log stream and slow Serve calls fail with a gateway error.
    """,
    fix="Raise the controller's timeout for the Ray routes with its own setting (see the message).",
    references=(
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#load-balancer-attributes",
        "https://cloud.google.com/kubernetes-engine/docs/how-to/ingress-configuration#timeout",
        "https://projectcontour.io/docs/main/config/annotations/",
        "https://github.com/haproxytech/kubernetes-ingress/blob/master/documentation/annotations.md#timeouts",
        "https://developer.konghq.com/kubernetes-ingress-controller/reference/annotations/",
    ),
    errors=(
        "upstream request timeout",
        "backend_timeout",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    plane = dataplane.for_ingress(ctx.objects, obj)
    profile = plane.profile
    if profile is None or profile.timeout is None or plane.kind == "none":
        return
    t = profile.timeout
    routes = _http.ray_routes(ctx.objects, obj, "dashboard", "serve", any_controller=True)
    seen: set[tuple[str, str | None]] = set()
    for route in routes:
        if (route.service, route.port) in seen:
            continue
        seen.add((route.service, route.port))
        limit, source = ingress_classes.route_timeout(profile, ctx.objects, obj,
                                                      route.service_obj, route.port)
        if limit is None or limit >= MIN_SECONDS:
            continue
        shown = f"{limit:g}s"
        effects = []
        if route.ray_port == "dashboard" and t.websocket in ("idle", "lifetime"):
            effects.append(
                f"`ray job submit` / `ray job logs -f` lose the log-tail WebSocket after {shown}"
                + (" without output" if t.websocket == "idle" else ", however busy the job is"))
        if route.ray_port == "dashboard":
            effects.append(f"Dashboard and Jobs API requests that pass {shown} without data are "
                           "cut" if t.kind == "idle" else
                           f"Dashboard and Jobs API responses slower than {shown} fail with a "
                           "gateway error")
        else:
            effects.append(f"Serve responses slower than {shown} fail with a gateway error")
        what = "idle timeout" if t.kind == "idle" else "response timeout"
        yield ctx.finding(
            obj, _http.path_field(route),
            f"{_http.describe_route(route)} is {plane.describe()}, whose {what} is {shown} "
            f"({source}): {'; '.join(effects)}",
            fix=f"Set {t.knob}.",
            assumption=(f"class {plane.class_name} assumed to be {profile.title}'s"
                        if plane.assumed else None))
