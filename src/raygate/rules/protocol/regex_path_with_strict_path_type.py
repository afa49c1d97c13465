"""RG207 regex-path-with-strict-path-type: a regex path declared as Prefix or Exact.

The Kubernetes API accepts ``/ray(/|$)(.*)`` with ``pathType: Prefix`` (only ``//``, ``/./``
and friends are refused), but the ingress-nginx admission webhook runs ``ValidatePathType``
when ``strict-validate-path-type`` is on, the default since controller v1.12.0: any Prefix or
Exact path outside ``^/[[:alnum:]._\\-/]*$`` is denied with ``ingress contains invalid paths:
path <path> cannot be used with pathType <type>``. With the setting off (or before v1.12) the
same text comes back as an admission warning and the Ingress is accepted
(facts: ingress_nginx.md §1.2, §1.3 item 7, §4.2). A controller without ``--validating-webhook``
never runs ``ValidatePathType`` (controller.go CheckIngress is its only caller at
controller-v1.15.1): the path is served, as a regex only if the host enforces regex. Go's ``$``
matches only at the end of the text, so ``"/ray\n"`` fails the check too. Old guides and the seed guide's own
manifest that omit ``pathType: ImplementationSpecific`` hit this on a current controller.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import FieldPath, KubeObject
from raygate.rules import Context, rule
from raygate.rules.protocol import _http

DENIED = "ingress contains invalid paths: path {path} cannot be used with pathType {ptype}"
#: Strict path-type validation (and its warning) arrived in controller v1.8.0.
FIRST_VERSION = (1, 8, 0)


@rule(
    code="RG207",
    name="regex-path-with-strict-path-type",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    title="Regex path declared with pathType Prefix or Exact",
    rationale="""
        Dashboard sub-path routes need a regex path such as `/ray(/|$)(.*)` so that
        `rewrite-target: /$2` can strip the prefix. The Kubernetes API accepts that path with
        `pathType: Prefix`, but since ingress-nginx v1.12 the controller's
        `strict-validate-path-type` defaults to `true` and its admission webhook only allows
        letters, digits, `.`, `_`, `-` and `/` in Prefix and Exact paths. `kubectl apply` then
        fails with `ingress contains invalid paths: path /ray(/|$)(.*) cannot be used with
        pathType Prefix`, and the Dashboard route never exists. Regex paths must use
        `pathType: ImplementationSpecific`, which the webhook does not check. With strict
        validation off the Ingress is accepted with the same text as an admission warning,
        but the manifest breaks as soon as the controller is upgraded to its defaults.
    """,
    fix=("Set pathType: ImplementationSpecific on every path that contains regex characters, "
         "with use-regex or a rewrite-target so nginx matches it as a regex; for a Ray "
         "Dashboard under a prefix, a rewrite-target that removes the prefix (RG225)."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#strict-validate-path-type",
        "https://kubernetes.github.io/ingress-nginx/faq/#validation-of-path",
        "https://kubernetes.github.io/ingress-nginx/user-guide/ingress-path-matching/",
    ),
    errors=(
        "ingress contains invalid paths: path <path> cannot be used with pathType <type>",
        "Warning: path <path> cannot be used with pathType <type>",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if _http.controller(ctx.objects, obj) is None:
        return  # strict path-type validation is ingress-nginx's webhook
    controller = None
    for field, entry, host in nginx.ingress_paths(obj):
        path, ptype = entry.get("path"), entry.get("pathType")
        # Paths without a leading "/" are refused by the API server before the webhook sees
        # them, and ImplementationSpecific is exempt from the check.
        if ptype not in ("Prefix", "Exact") or not isinstance(path, str) or not path.startswith("/"):
            continue
        if nginx.VALID_PATH_TYPE_RE.match(path):
            continue
        controller = controller or dataplane.controller_of(ctx.objects, obj)
        if controller is None:
            return
        if controller.version_known and controller.version < FIRST_VERSION:
            continue
        text = DENIED.format(path=path, ptype=ptype)
        source = controller.setting_source("strict-validate-path-type")
        assumption = controller.assumed
        fix = _fix(ctx, obj, field, path, ptype, host)
        if not controller.admission_webhook:
            # ValidatePathType runs only in CheckIngress; the store never applies it.
            server = _http.server_for(ctx.objects, obj, host)
            how = ("as a regex location, because a path of this host uses rewrite-target or "
                   "use-regex, so it routes; a controller that runs the webhook will deny it"
                   if server is not None and server.regex else
                   "as a plain prefix location that matches only the literal text "
                   f"{path}, so requests to it get 404")
            yield ctx.finding(
                obj, field + ("pathType",),
                f"path {path} cannot be used with pathType {ptype} under "
                f"strict-validate-path-type, but {controller.no_webhook}: the controller "
                f"serves it {how}",
                fix=fix, severity="warning", assumption=assumption)
        elif controller.strict_path_type:
            yield ctx.finding(
                obj, field + ("pathType",),
                f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: {text} '
                f"(strict-validate-path-type is true: {source})",
                fix=fix, assumption=assumption)
        else:
            yield ctx.finding(
                obj, field + ("pathType",),
                f"Warning: path {path} cannot be used with pathType {ptype} (accepted with an "
                f"admission warning only because strict-validate-path-type is false: {source}; "
                f"denied once the controller uses the v1.12+ default)",
                fix=fix, severity="warning", assumption=assumption)


def _fix(ctx: Context, obj: KubeObject, field: FieldPath, path: str, ptype: str,
         host: object) -> str:
    """A fix that yields a working route, not only an admitted one.

    ImplementationSpecific alone makes the webhook accept the path, but nginx matches it as a
    regex only when the host has ``use-regex`` or a ``rewrite-target`` (facts: ingress_nginx.md
    §4.1); otherwise ``/ray(/|$)(.*)`` is a literal prefix no URL starts with. And a Ray
    Dashboard served under a prefix needs the prefix removed (RG225)."""
    change = f"Change pathType: {ptype} to pathType: ImplementationSpecific for path {path}"
    if _http.rewrite_target(obj) is not None:
        return change + "."
    groups = _http.capture_groups(path)
    dashboard = any(_http.entry_field(r) == field
                    for r in _http.ray_routes(ctx.objects, obj, "dashboard"))
    prefix = _http.bare_prefix(path)
    if dashboard and prefix:
        rest = f"/${groups}" if groups else None
        if rest:
            return (f"{change}, and add nginx.ingress.kubernetes.io/rewrite-target: {rest} so "
                    f"the Dashboard receives paths without {prefix} (it answers 404 under a "
                    "prefix).")
        return (f"{change} as path {prefix}/(.*) with nginx.ingress.kubernetes.io/"
                f"rewrite-target: /$1, so the Dashboard receives paths without {prefix}.")
    server = _http.server_for(ctx.objects, obj, host)
    if server is not None and server.regex:
        return change + "."
    return (f'{change}, and add nginx.ingress.kubernetes.io/use-regex: "true": without it (or a '
            "rewrite-target) nginx reads the path as a literal prefix that no URL starts with.")

