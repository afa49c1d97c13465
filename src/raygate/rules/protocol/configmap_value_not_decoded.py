"""RG233 configmap-value-not-decoded: a controller ConfigMap value of the wrong type.

``template/configmap.go ReadConfig`` (controller-v1.15.1) decodes the controller ConfigMap into
its typed ``Configuration`` with mapstructure v1.5.0 and ``WeaklyTypedInput``. Integer keys go
through ``strconv.ParseInt(s, 0, bits)`` and boolean keys through ``strconv.ParseBool``; a value
that fails is collected as an error, **that key keeps its default** and every other key still
applies. The only trace is the warning ``unexpected error merging defaults: 1 error(s)
decoding: * cannot parse 'proxy-read-timeout' as int: strconv.ParseInt: parsing "3600s": invalid
syntax``. So ``proxy-read-timeout: "3600s"`` or ``"20k"`` leaves 60 s; ``allow-snippet-annotations:
"yes"`` leaves false. (Base prefixes are accepted: ``"0x3c"`` is 60 and ``"010"`` is 8.)
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

_WHAT = {"int": "an integer", "int32": "an integer", "bool": "a boolean", "float32": "a number"}


@rule(
    code="RG233",
    name="configmap-value-not-decoded",
    layer="protocol",
    severity="warning",
    kinds=("ConfigMap",),
    title="Controller ConfigMap value the controller cannot decode (the default stays)",
    rationale="""
        The ingress-nginx ConfigMap is all strings, but the controller decodes each key into a
        typed setting. Timeouts are plain integers of seconds and booleans are Go booleans, so
        `proxy-read-timeout: "3600s"`, `keep-alive: "75s"` or `use-forwarded-headers: "yes"`
        cannot be decoded. The controller does not refuse the ConfigMap: that one key silently
        keeps its default (60 s for the proxy timeouts) and only a warning appears in its log.
        Ray Dashboard log streams and long Serve requests are then still cut after a minute.
    """,
    fix='Write integers as plain numbers ("3600") and booleans as "true" or "false".',
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/",
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/template/configmap.go",
        "https://github.com/mitchellh/mapstructure/blob/v1.5.0/mapstructure.go",
    ),
    errors=(
        "unexpected error merging defaults: <n> error(s) decoding:",
        "cannot parse '<key>' as int: strconv.ParseInt: parsing <value>: invalid syntax",
        "cannot parse '<key>' as bool: strconv.ParseBool: parsing <value>: invalid syntax",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    readers = nginx.controllers_reading_config(ctx.objects, obj)
    if not readers:
        return
    controller = readers[0]
    for decoded in controller.config_errors():
        kind = nginx.CONFIGMAP_TYPES.get(decoded.key, "int")
        default = controller.default_setting(decoded.key) or "its built-in default"
        yield ctx.finding(
            obj, ("data", decoded.key),
            f'{decoded.key}: "{decoded.raw}" is not {_WHAT.get(kind, "a " + kind)} the '
            f"controller can decode, so {decoded.key} keeps its default {default} and "
            f"{controller.ref} only logs: {decoded.log_line.replace(chr(10), ' ').strip()}",
            fix=(f'Write {decoded.key} as a plain number (e.g. "3600").' if kind != "bool"
                 else f'Write {decoded.key} as "true" or "false".'))
