"""RG236 dashboard-upload-over-ray-limit: Ray's own 100 MiB upload cap, behind a bigger gateway.

The Dashboard's aiohttp server is created with ``client_max_size=DASHBOARD_CLIENT_MAX_SIZE``
(``100 * 1024**2``, ray/_private/ray_constants.py; ray/dashboard/http_server_head.py, Ray 2.x),
so a ``ray job submit --working-dir`` package over 100 MiB is refused by Ray itself with
aiohttp's ``HTTPRequestEntityTooLarge`` (413, "Maximum request body size 104857600 exceeded"),
whatever the gateway allows. This rule exists so ``raygate explain --error`` tells that 413
apart from nginx's (RG210): it is informational and off by default; it fires when a Dashboard
route lets bodies over 100 MiB through, where Ray's limit is the one users will meet.
"""

from __future__ import annotations

from typing import Iterable

from raygate import kuberay
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

RAY_DASHBOARD_MAX_BYTES = kuberay.DASHBOARD_UPLOAD_MAX_BYTES


@rule(
    code="RG236",
    name="dashboard-upload-over-ray-limit",
    layer="protocol",
    severity="info",
    kinds=("Ingress",),
    enabled_by_default=False,
    title="Dashboard route whose body limit exceeds Ray's own 100 MiB upload cap",
    rationale="""
        Ray's Dashboard refuses request bodies over 100 MiB itself (aiohttp `client_max_size`,
        `DASHBOARD_CLIENT_MAX_SIZE`). When the gateway allows more (`proxy-body-size: 0` or
        `1g`), a large `working_dir` upload passes nginx and is then answered by Ray with
        `413: Maximum request body size 104857600 exceeded`, and raising the gateway limit
        further changes nothing. The fix is on the Ray side: a smaller package (excludes,
        .rayignore) or a remote `working_dir` URI.
    """,
    fix=("Keep working_dir packages under 100 MiB (runtime_env excludes, .rayignore) or upload "
         "the package to remote storage and pass its URI as working_dir."),
    references=(
        "https://docs.ray.io/en/latest/ray-core/handling-dependencies.html#api-reference",
        "https://docs.aiohttp.org/en/stable/web_reference.html#aiohttp.web.Application",
    ),
    errors=(
        "Request failed with status code 413: Maximum request body size <n> exceeded",
        "Maximum request body size <n> exceeded",
        "Maximum request body size <n> exceeded, actual body size <m>",
        "HTTPRequestEntityTooLarge",
        "Package size (<size>) exceeds the maximum size of <max>",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    routes = _http.ray_routes(ctx.objects, obj, "dashboard")
    if not routes:
        return
    setting = _http.effective(ctx.objects, obj, "proxy-body-size", _http.valid_size)
    limit = _http.size_bytes(setting.value)
    if limit is None or (limit != 0 and limit <= RAY_DASHBOARD_MAX_BYTES):
        return
    where = ", ".join(_http.describe_route(r) for r in routes)
    yield ctx.finding(
        obj, ("metadata", "annotations", setting.field) if setting.field else _http.path_field(routes[0]),
        f"{setting.describe()} on the Dashboard route {where}: packages over 100 MiB pass the "
        "gateway and are refused by Ray's Dashboard itself with \"413: Maximum request body "
        "size 104857600 exceeded\"",
        assumption=setting.assumption)
