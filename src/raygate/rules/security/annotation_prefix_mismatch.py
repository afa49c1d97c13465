"""RG127 annotation-prefix-mismatch: annotations under a prefix the controller does not read.

``--annotations-prefix`` (pkg/flags/flags.go, default ``nginx.ingress.kubernetes.io``) changes
the prefix every annotation parser looks up. Since v1.9.0 the admission webhook denies any key
still under the default prefix (controller.go ``CheckIngress`` at controller-v1.15.1: ``this
deployment has a custom annotation prefix defined. Use '<prefix>' instead of
'nginx.ingress.kubernetes.io'``). Without the webhook (or before v1.9) those annotations are
simply not read: a Ray Ingress's rewrite-target, body size and timeouts do nothing.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG127",
    name="annotation-prefix-mismatch",
    layer="security",
    severity="error",
    kinds=("Ingress",),
    title="nginx.ingress.kubernetes.io annotations on a controller with a custom --annotations-prefix",
    rationale="""
        Some installs run ingress-nginx with `--annotations-prefix` (for example to run two
        controllers side by side). Every annotation must then use that prefix. Manifests copied
        from the Ray or ingress-nginx docs use `nginx.ingress.kubernetes.io/`, which the
        webhook refuses since v1.9 ("this deployment has a custom annotation prefix defined"),
        and which the controller otherwise ignores: the Dashboard's rewrite, body size and
        timeouts silently fall back to the defaults.
    """,
    fix="Rename the annotations to the controller's --annotations-prefix.",
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/",
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/controller.go",
    ),
    errors=(
        "this deployment has a custom annotation prefix defined. Use '<prefix>' instead of "
        "'nginx.ingress.kubernetes.io'",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    if not controller.custom_prefix:
        return
    keys = sorted(k for k in obj.annotations if isinstance(k, str) and k.startswith(nginx.PREFIX))
    if not keys:
        return
    custom = controller.annotations_prefix.rstrip("/")
    fix = f"Rename {', '.join(keys)} to {custom}/<name>."
    if controller.admission_webhook and nginx.has_behaviour(controller, "custom-prefix-denial"):
        yield ctx.finding(
            obj, ("metadata", "annotations", keys[0]),
            f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: this deployment has a '
            f"custom annotation prefix defined. Use '{custom}' instead of "
            f"'nginx.ingress.kubernetes.io' (--annotations-prefix={custom} on {controller.ref})",
            fix=fix)
        return
    yield ctx.finding(
        obj, ("metadata", "annotations", keys[0]),
        f"{controller.ref} reads annotations under {custom}/ (--annotations-prefix), so "
        f"{', '.join(keys)} do nothing: the Ingress is served with the controller defaults",
        severity="warning", fix=fix)
