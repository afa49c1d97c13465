"""RG210 dashboard-default-body-size: job uploads through a route capped below 100 MiB.

``ray job submit --working-dir`` zips the directory and uploads it in ONE ``PUT
/api/packages/gcs/_ray_pkg_<hash>.zip`` request; the Dashboard itself accepts up to 100 MiB
(``DASHBOARD_CLIENT_MAX_SIZE``, facts: kuberay_ray.md §5.3). ingress-nginx renders
``client_max_body_size`` from ``proxy-body-size``, default ``1m`` (ingress_nginx.md §5), so any
package over 1 MiB gets nginx's ``413 Request Entity Too Large`` and the CLI dies with
``RuntimeError: Request failed with status code 413`` (reproduced through real nginx,
feasibility.md §B). An annotation value that fails the size validator (``100Mi``, ``1.5g``) is
silently replaced by the ConfigMap value (ingress_nginx.md §2.3), and a value nginx.tmpl does
not write (``isValidByteSize``: ``^\\d+[kKmMgG]?$`` after trimming, template.go at
controller-v1.15.1; ConfigMap ``100Mi``, ``"100 m"``, ``104857600b``) leaves nginx's own 1m; this
rule follows both. Ray's own 100 MiB cap answering 413 is RG236, not this rule.
"""

from __future__ import annotations

from typing import Iterable

from raygate import kuberay
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

#: Ray's own upload cap (DASHBOARD_CLIENT_MAX_SIZE); a gateway limit below it is the bottleneck.
DASHBOARD_MAX_BYTES = kuberay.DASHBOARD_UPLOAD_MAX_BYTES


@rule(
    code="RG210",
    name="dashboard-default-body-size",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Dashboard route limits request bodies below Ray's 100 MiB upload size",
    rationale="""
        `ray job submit --working-dir .` uploads the zipped directory to the Dashboard in a
        single request, and the Dashboard accepts packages up to 100 MiB. ingress-nginx
        limits request bodies with `proxy-body-size`, whose default is `1m`, so any project
        bigger than 1 MiB (a data file, a `.git` directory) is refused by nginx with
        `413 Request Entity Too Large` before Ray sees it. The CLI only prints
        `RuntimeError: Request failed with status code 413` with nginx's HTML page, nothing
        about the gateway. Typos such as `100Mi` fail the annotation's validator and silently
        fall back to the 1m default.
    """,
    fix='Set nginx.ingress.kubernetes.io/proxy-body-size: "100m" on the Dashboard Ingress.',
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-max-body-size",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#proxy-body-size",
        "https://docs.ray.io/en/latest/cluster/configure-manage-dashboard.html",
    ),
    errors=(
        "413 Request Entity Too Large",
        "RuntimeError: Request failed with status code 413",
        "client intended to send too large body: <n> bytes",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    routes = _http.ray_routes(ctx.objects, obj, "dashboard")
    if not routes:
        return
    # The effective size: a refused annotation falls back to the ConfigMap, and a value
    # nginx.tmpl does not write (100Mi, "100 m", 104857600b) leaves nginx's own 1m.
    setting = _http.effective(ctx.objects, obj, "proxy-body-size", _http.valid_size)
    limit = _http.size_bytes(setting.value)
    if limit is None or limit == 0 or limit >= DASHBOARD_MAX_BYTES:
        return  # 0 means unlimited in nginx
    where = ", ".join(_http.describe_route(r) for r in routes)
    yield ctx.finding(
        obj, ("metadata", "annotations", setting.field) if setting.field else _http.path_field(routes[0]),
        f"{setting.describe()} on the Dashboard route {where}: `ray job submit --working-dir` "
        f"packages over {setting.value} are refused by nginx with \"413 Request Entity Too "
        f'Large" and the Ray CLI fails with "RuntimeError: Request failed with status code '
        f'413" (the Dashboard itself accepts up to 100 MiB)',
        assumption=setting.assumption)
