"""RG128 deep-inspection-refused: a host, path or TLS secret the deep inspector refuses.

``--deep-inspect`` (default true, since v1.2.0) runs ``inspector.DeepInspect`` on every
Ingress, in the webhook and in the store (internal/ingress/inspector/rules.go and ingress.go at
controller-v1.15.1). Values matching ``alias ...;``, ``root ...;``,
``/etc/(passwd|shadow|group|nginx|ingress-controller)``, ``/var/run/secrets`` or ``_by_lua``
are refused: the webhook answers ``invalid object: invalid rule in ingress <ns>/<name>: invalid
http path: invalid value found: <path>``; without it the store logs "received invalid ingress"
and drops the Ingress. Upstream tests: inspector/rules_test.go TestCheckRegex,
inspector/ingress_test.go (``/etc/nginx``, ``/var/run/secrets``).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG128",
    name="deep-inspection-refused",
    layer="security",
    severity="error",
    kinds=("Ingress",),
    title="Ingress host, path or TLS secret that ingress-nginx's deep inspection refuses",
    rationale="""
        ingress-nginx inspects every host, path and TLS secret name for text that could
        escape into nginx.conf: `alias`/`root` directives, `_by_lua`, paths under `/etc/nginx`,
        `/etc/passwd` or `/var/run/secrets`. A match refuses the whole Ingress: the admission
        webhook denies it, and without the webhook the controller drops it with a log line.
        A Ray route under such a path never exists.
    """,
    fix="Choose a path, host and secret name without those words (e.g. /ray/ instead of /etc/nginx/ray).",
    references=(
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/inspector/rules.go",
        "https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/",
    ),
    errors=(
        "invalid object: invalid rule in ingress <ns>/<name>: invalid http path: invalid value found: <path>",
        "invalid object: invalid host in ingress <ns>/<name>: invalid value found: <host>",
        "invalid object: invalid secret in ingress <ns>/<name>: invalid value found: <secret>",
        "invalid host in ingress tls config <ns>/<name>: invalid value found: <host>",
        '"received invalid ingress" err="<reason>"',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    if not controller.deep_inspect:
        return
    refused = nginx.deep_inspection(obj)
    if refused is None:
        return
    field, text = refused
    if controller.admission_webhook:
        message = (f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: invalid '
                   f"object: {text}")
    else:
        message = (f"{controller.no_webhook}, but the controller drops it: \"received invalid "
                   f"ingress\" err=\"{text}\"")
    yield ctx.finding(obj, field, message, assumption=controller.assumed)
