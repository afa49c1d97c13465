"""RG211 dashboard-short-read-timeout: Dashboard/Serve routes that nginx cuts after 60 s.

ingress-nginx renders ``proxy_read_timeout``/``proxy_send_timeout`` from ``proxy-read-timeout``/
``proxy-send-timeout``, unit-less seconds defaulting to 60 (facts: ingress_nginx.md §5). The
Jobs CLI tails logs over a WebSocket (``/api/jobs/<id>/logs/tail``, kuberay_ray.md §5.2) that is
idle whenever the job prints nothing, and Serve requests can take minutes; nginx closes an idle
upgraded connection or answers 504 once the timeout passes. The ingress-nginx WebSocket guide
asks for values above one hour (3600). ``"3600s"`` is refused by the integer validator and
silently falls back to 60 (ingress_nginx.md §2.3), which this rule follows.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

#: The ingress-nginx WebSocket guidance ("a value higher than one hour (3600)").
MIN_SECONDS = 3600
KEYS = ("proxy-read-timeout", "proxy-send-timeout")


@rule(
    code="RG211",
    name="dashboard-short-read-timeout",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Dashboard or Serve route with a proxy read/send timeout under one hour",
    rationale="""
        `ray job submit` (without `--no-wait`) and `ray job logs -f` follow job output over a
        WebSocket to the Dashboard, and that socket is idle whenever the job is quiet. Long
        Serve requests (batch inference, streaming responses) are quiet on the wire until
        the answer is ready. ingress-nginx closes an upstream connection that sends nothing
        for `proxy-read-timeout` seconds, 60 by default, so log tailing dies with "WebSocket
        connection closed unexpectedly" after a minute of silence and slow Serve calls get
        `504 Gateway Time-out`. The ingress-nginx WebSocket guide asks for more than one
        hour (3600) for both `proxy-read-timeout` and `proxy-send-timeout`. The values are
        plain seconds: `"3600s"` fails the integer validator and silently stays at 60.
    """,
    fix=('Set nginx.ingress.kubernetes.io/proxy-read-timeout: "3600" and '
         'nginx.ingress.kubernetes.io/proxy-send-timeout: "3600" on the Ingress.'),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/miscellaneous/#websockets",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-timeouts",
        "https://docs.ray.io/en/latest/cluster/configure-manage-dashboard.html",
    ),
    errors=(
        "upstream timed out (110: Connection timed out) while proxying upgraded connection",
        "upstream timed out (110: Connection timed out) while reading response header from upstream",
        "504 Gateway Time-out",
        "WebSocket connection closed unexpectedly",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    routes = _http.ray_routes(ctx.objects, obj, "dashboard", "serve")
    if not routes:
        return
    short = []
    for key in KEYS:
        setting = _http.effective(ctx.objects, obj, key, _http.valid_int)
        value = _http.seconds(setting.value)
        if value is not None and value < MIN_SECONDS:
            short.append(setting)
    if not short:
        return
    kinds = {r.ray_port for r in routes}
    read = next((st for st in short if st.key == "proxy-read-timeout"), None)
    effects = []
    if read is not None:
        idle = _http.seconds(read.value)
        if "dashboard" in kinds:
            effects.append(f"`ray job submit` / `ray job logs -f` lose the log-tail WebSocket "
                           f"after {idle}s without output (\"WebSocket connection closed "
                           f"unexpectedly\")")
        if "serve" in kinds:
            effects.append(f"Serve responses slower than {idle}s get \"504 Gateway Time-out\"")
    else:
        effects.append("nginx aborts a request when Ray does not accept data for that long "
                       "(large job uploads, a busy Serve replica); the ingress-nginx WebSocket "
                       "guide asks for both timeouts above 3600")
    where = ", ".join(_http.describe_route(r) for r in routes)
    annotated = next((st for st in short if st.field), None)
    field = ("metadata", "annotations", annotated.field) if annotated and annotated.field \
        else _http.path_field(routes[0])
    yield ctx.finding(
        obj, field,
        f"{_describe(short)} on {where}: {'; '.join(effects)}",
        assumption=next((s.assumption for s in short if s.assumption), None))


def _describe(short: list[_http.Setting]) -> str:
    first = short[0]
    if len(short) == 2 and not any(st.refused or st.not_applied for st in short) and \
            short[1].value == first.value and short[1].source == first.source:
        return f"proxy-read-timeout and proxy-send-timeout are {first.value} ({first.source})"
    return " and ".join(st.describe() for st in short)
