"""RG237 redirect-value-ignored: redirect and app-root values the parsers drop silently.

Values that pass their validator but not the parser's own check are ignored without any denial
(controller-v1.15.1):

* ``temporal-redirect`` without an ``http``/``https`` scheme: redirect.go ``isValidURL`` returns
  "only http and https are valid protocols (<scheme>)", a plain error that annotations.go
  ``Extract`` skips, so the whole Redirect group (``permanent-redirect`` on the same Ingress
  included) does nothing (redirect_test.go TestIsValidURL);
* ``app-root`` that is not an absolute path: rewrite/main.go logs "Annotation app-root contains
  an invalid value" (``url.ParseRequestURI`` fails, e.g. ``ray/``) or "Annotation app-root only
  allows absolute paths (<value>)" (a full URL) and renders no ``/`` redirect;
* ``permanent-redirect-code`` outside 300-308 and ``temporal-redirect-code`` outside 300-307
  fall back to 301/302 (redirect_test.go TestPermanentRedirectWithCustomCode: 418 -> 301).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG237",
    name="redirect-value-ignored",
    layer="protocol",
    severity="warning",
    kinds=("Ingress",),
    title="Redirect or app-root annotation value that ingress-nginx silently ignores",
    rationale="""
        Ray Dashboard setups use `app-root` or a redirect annotation to send `/` or `/ray` to
        the Dashboard. ingress-nginx accepts some values at admission and then ignores them:
        a `temporal-redirect` to a relative path or another scheme, an `app-root` that is not
        an absolute path (`ray/`) or is a full URL, a redirect code outside 300-308. The
        Ingress applies cleanly and the redirect never happens (or uses 301/302).
    """,
    fix=("Use an absolute http(s) URL for temporal-redirect, an absolute path such as /ray/ for "
         "app-root, and a 3xx code the annotation allows."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#redirect",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#app-root",
    ),
    errors=(
        "only http and https are valid protocols (<scheme>)",
        "Annotation app-root contains an invalid value: <reason>",
        "Annotation app-root only allows absolute paths (<value>)",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    prefix = controller.annotations_prefix
    checked = controller.annotation_validation

    def value(name: str) -> str | None:
        raw = obj.annotations.get(prefix + name)
        return raw if isinstance(raw, str) and raw != "" else None

    temporal = value("temporal-redirect")
    if temporal is not None and (not checked or nginx.URL_IS_VALID_RE.match(temporal)):
        reason = nginx.temporal_redirect_ignored(temporal)
        if reason is not None:
            also = (" (the permanent-redirect on this Ingress is dropped with it)"
                    if value("permanent-redirect") else "")
            yield ctx.finding(
                obj, ("metadata", "annotations", prefix + "temporal-redirect"),
                f"temporal-redirect {temporal!r} is admitted but ignored: {reason}; the Redirect "
                f"annotations of this Ingress do nothing{also}",
                fix="Give temporal-redirect an absolute http:// or https:// URL.")
    app_root = value("app-root")
    if app_root is not None and (not checked or nginx.REGEX_PATH_WITH_CAPTURE_RE.match(app_root)):
        reason = nginx.app_root_ignored(app_root)
        if reason is not None:
            yield ctx.finding(
                obj, ("metadata", "annotations", prefix + "app-root"),
                f"app-root {app_root!r} is ignored (log: {reason}): requests to / are not "
                "redirected",
                fix="Set app-root to an absolute path such as /ray/.")
    for name, (low, high, default) in nginx.REDIRECT_CODE_RANGES.items():
        code = value(name)
        if code is None:
            continue
        number = nginx.go_parse_int(code) if code.lstrip("+-").isdigit() else None
        if number is not None and not low <= number <= high:
            yield ctx.finding(
                obj, ("metadata", "annotations", prefix + name),
                f"{name} {code} is outside {low}-{high}, so the controller uses {default}",
                fix=f"Use a code between {low} and {high}.")
