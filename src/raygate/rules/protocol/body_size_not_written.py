"""RG238 body-size-not-written: a ``proxy-body-size`` nginx.tmpl will not write.

nginx.tmpl writes ``client_max_body_size`` only ``{{ if isValidByteSize $location.Proxy.BodySize
true }}`` (template.go at controller-v1.15.1, since v0.34.0): after TrimSpace the value must
match ``^\\d+[kKmMgG]?$``. Anything else writes nothing, and nginx's own default 1m applies:

* in the controller ConfigMap, where ``proxy-body-size`` is a plain string nobody validates:
  ``100Mi``, ``"100 m"``, ``104857600b``, ``1.5g``;
* in an annotation that passes ``SizeRegex`` (spaces removed, ``b`` allowed) but not the
  template: ``"100 m"``, ``104857600b``.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule

KEY = "proxy-body-size"


@rule(
    code="RG238",
    name="body-size-not-written",
    layer="protocol",
    severity="warning",
    kinds=("Ingress", "ConfigMap"),
    title="proxy-body-size value nginx.tmpl does not write (nginx's 1m applies)",
    rationale="""
        Raising the body limit for Ray job uploads with Kubernetes-style units (`100Mi`),
        a space (`100 m`) or bytes (`104857600b`) looks right and is accepted, but the
        controller's template writes `client_max_body_size` only for values like `100m`,
        `512k` or `8g`. Nothing is written and nginx's default of 1m stays: `ray job submit`
        fails with 413 for any package over 1 MiB.
    """,
    fix='Write the size as digits with an optional k, m or g unit, e.g. "100m".',
    references=(
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/template/template.go",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#proxy-body-size",
        "https://nginx.org/en/docs/http/ngx_http_core_module.html#client_max_body_size",
    ),
    errors=("client intended to send too large body: <n> bytes",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if obj.kind == "ConfigMap":
        yield from _configmap(obj, ctx)
        return
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    key = controller.annotations_prefix + KEY
    raw = obj.annotations.get(key)
    if not isinstance(raw, str) or raw == "":
        return
    size = nginx.body_size(controller, raw)
    if size.source != "annotation" or size.written:
        return  # refused by the validator: RG103 says so
    yield ctx.finding(
        obj, ("metadata", "annotations", key),
        f"{KEY} {raw!r} passes the annotation validator but nginx.tmpl writes "
        "client_max_body_size only for values like 100m (^\\d+[kKmMgG]?$), so nginx's default "
        f"{nginx.NGINX_DEFAULT_BODY_SIZE} applies to this Ingress",
        assumption=controller.assumed)


def _configmap(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    readers = nginx.controllers_reading_config(ctx.objects, obj)
    data = obj.get("data")
    if not readers or not isinstance(data, dict) or KEY not in data:
        return
    raw = str(data[KEY])
    if nginx.template_writes_size(raw):
        return
    yield ctx.finding(
        obj, ("data", KEY),
        f"{KEY} {raw!r} is taken as written but nginx.tmpl writes client_max_body_size only for "
        "values like 100m (^\\d+[kKmMgG]?$), so every location without its own valid "
        f"annotation gets nginx's default {nginx.NGINX_DEFAULT_BODY_SIZE}")
