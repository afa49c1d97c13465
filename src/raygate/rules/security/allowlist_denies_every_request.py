"""RG125 allowlist-denies-every-request: an allow/deny list the controller cannot parse.

``ipallowlist/main.go`` and ``ipdenylist/main.go`` (controller-v1.15.1) wrap every parse failure
of ``allowlist-source-range`` (alias ``whitelist-source-range``) and ``denylist-source-range``
in a ``LocationDeniedError``: a value that fails ``ValidateCIDRs`` (``ww``, ``"10.0.0.0/24,"``,
whose empty item after the comma is no address; ``ParseIPNets`` in ``internal/net/ipnet.go``)
and an empty value (``parseString``: "does not contain a valid value ()"). ``Extract`` keeps the
Ingress and sets ``Denied`` on it, so the admission webhook admits it, and every location of the
Ingress renders ``# Location denied. Reason: ...`` + ``return 503;`` (nginx.tmpl). Upstream test:
``ipallowlist/main_test.go TestParseAnnotations`` ("test parse a invalid net", "test parse a
empty net"). The store records the Event ``AnnotationParsingFailed``.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG125",
    name="allowlist-denies-every-request",
    layer="security",
    severity="error",
    kinds=("Ingress",),
    title="Allow/deny list the controller cannot parse: every request gets 503",
    rationale="""
        An allowlist meant to keep the Ray Dashboard private does the opposite of failing
        closed loudly: ingress-nginx admits the Ingress, records "Error parsing annotations"
        as an Event, and renders every location of it as `return 503`. A trailing comma
        (`"10.0.0.0/24,"`), a hostname or a typo (`ww`), or an empty value is enough. The
        Dashboard, Jobs API and Serve routes of that Ingress answer 503 Service Temporarily
        Unavailable to everyone, which looks like a dead Ray head.
    """,
    fix=("Write the list as comma-separated IP addresses or CIDRs with no empty item, e.g. "
         "\"10.0.0.0/8,192.168.0.0/16\"."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#allowlist-source-range",
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/annotations/ipallowlist/main.go",
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/rootfs/etc/nginx/template/nginx.tmpl",
    ),
    errors=(
        "Error parsing annotations: annotation nginx.ingress.kubernetes.io/allowlist-source-range contains invalid value",
        "Error parsing annotations: annotation nginx.ingress.kubernetes.io/whitelist-source-range contains invalid value",
        "Error parsing annotations: annotation nginx.ingress.kubernetes.io/denylist-source-range contains invalid value",
        "the annotation does not contain a valid IP address or network: <reason>",
        "the annotation nginx.ingress.kubernetes.io/allowlist-source-range does not contain a valid value ()",
        "# Location denied. Reason: <reason>",
        "error reading Ingress annotation <name> <ingress>",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    prefix = controller.annotations_prefix
    for name, alias in ((nginx.ALLOWLIST, nginx.ALLOWLIST_ALIAS), (nginx.DENYLIST, None)):
        denied = nginx.source_range_denial(obj.annotations, name, prefix, alias,
                                           validated=controller.annotation_validation)
        if denied is None:
            continue
        key, reason = denied
        value = obj.annotations.get(key)
        yield ctx.finding(
            obj, ("metadata", "annotations", key),
            f"{key}: {value!r} is not a list of IP addresses or CIDRs; ingress-nginx admits the "
            f"Ingress but denies every location of it, so nginx answers 503 to every client "
            f"(nginx.conf: # Location denied. Reason: \"{reason}\"; Event "
            f"AnnotationParsingFailed: Error parsing annotations: {reason})",
            assumption=controller.assumed)
        return
