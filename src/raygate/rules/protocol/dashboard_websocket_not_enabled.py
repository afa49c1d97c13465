"""RG215 dashboard-websocket-not-enabled: a controller that upgrades WebSockets only on request.

ingress-nginx forwards WebSocket upgrades on every location (RG213 covers what undoes that).
Contour does not: on an Ingress, Envoy's ``use_websocket`` stays off unless the route's path is
listed in ``projectcontour.io/websocket-routes`` (Contour's annotation reference). The
controller profile (``raygate.backends.ingress_classes``, ``websocket_knob``) says which
controllers need it. The job is still submitted (a plain POST); following its logs fails.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http


@rule(
    code="RG215",
    name="dashboard-websocket-not-enabled",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Dashboard route on a controller that upgrades WebSockets only when asked",
    rationale="""
        `ray job submit` (without `--no-wait`) and `ray job logs -f` follow job output over a
        WebSocket at `/api/jobs/<id>/logs/tail`, and the Dashboard's log views use the same.
        Contour upgrades a route to WebSocket only when its path is listed in the Ingress
        annotation `projectcontour.io/websocket-routes`; otherwise the handshake fails, the
        job runs but the CLI exits 1 with `WSServerHandshakeError`.
    """,
    fix="List the Dashboard path in the controller's WebSocket annotation (see the message).",
    references=("https://projectcontour.io/docs/main/config/annotations/",
                "https://projectcontour.io/docs/main/config/websockets/"),
    errors=("WSServerHandshakeError",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    plane = dataplane.for_ingress(ctx.objects, obj)
    profile = plane.profile
    if profile is None or profile.websocket_knob is None or plane.kind == "none":
        return
    listed = {p.strip() for p in str(obj.annotations.get(profile.websocket_knob, "")).split(",")
              if p.strip()}
    for route in _http.ray_routes(ctx.objects, obj, "dashboard", any_controller=True):
        path = route.path if isinstance(route.path, str) and route.path else "/"
        if path in listed:
            continue
        yield ctx.finding(
            obj, _http.path_field(route),
            f"{_http.describe_route(route)} is {plane.describe()}, which upgrades a route to "
            f"WebSocket only when {profile.websocket_knob} lists its path ({path} is not "
            "listed): `ray job logs -f` and `ray job submit` fail with WSServerHandshakeError "
            "while the job runs",
            fix=f"Add {profile.websocket_knob}: \"{path}\" to the Ingress.")
