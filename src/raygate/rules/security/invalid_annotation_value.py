"""RG103 invalid-annotation-value: an annotation value ingress-nginx refuses or quietly ignores.

Three failures that look alike in a manifest and behave very differently (facts:
ingress_nginx.md §2.2 validators, §2.3 silent fallbacks, §5 defaults):

* parsers that propagate a validation error (redirects, ``x-forwarded-prefix``): the admission
  webhook denies the Ingress with ``annotation nginx.ingress.kubernetes.io/<name> contains
  invalid value`` (error);
* parsers that swallow it (every ``proxy-*``, the rewrite group, ``backend-protocol``): the
  Ingress is accepted and the controller quietly uses a default, e.g. ``proxy-read-timeout:
  "3600s"`` stays at 60 s and Dashboard log streams still die after a minute (warning);
* a YAML boolean or number as an annotation value: the API machinery refuses the whole object
  before ingress-nginx ever sees it (``json: cannot unmarshal bool into Go struct field
  ObjectMeta.metadata.annotations of type string``).

CR/LF in a value is refused by every regex validator as a "malicious string" (§2.2).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.security import _annotation_values as values

INVALID = ('admission webhook "{webhook}" denied the request: annotation {key} contains invalid '
           "value")
DECODE = ('error: unable to decode "{file}": json: cannot unmarshal {json_type} into Go struct '
          "field ObjectMeta.metadata.annotations of type string")


@rule(
    code="RG103",
    name="invalid-annotation-value",
    layer="security",
    severity="error",
    kinds=("Ingress",),
    title="Annotation value that ingress-nginx refuses or silently ignores",
    rationale="""
        ingress-nginx validates every annotation value against a per-annotation validator
        (`SizeRegex`, `ValidateInt`, `RegexPathWithCapture`, ...). What happens next depends on
        the annotation's parser. Redirects and `x-forwarded-prefix` return the error, so the
        admission webhook denies the Ingress. The `proxy-*` annotations, the rewrite group and
        `backend-protocol` swallow it and fall back to a default with only a log line, so
        `kubectl apply` succeeds and the setting silently does nothing: `proxy-body-size: 100Mi`
        keeps the 1m limit (Ray job uploads get 413), `proxy-read-timeout: 3600s` keeps 60 s
        (Dashboard log streams are cut), an invalid `rewrite-target` means no rewrite at all.
        Values with line breaks are refused everywhere because they are how config injection
        into nginx.conf starts. Unquoted YAML booleans or numbers never reach the controller:
        the API refuses the object.
    """,
    fix=("Use a value the annotation's validator accepts: sizes like 100m, timeouts as plain "
         "seconds like 3600, booleans as quoted \"true\"/\"false\", paths without ?, &, = or "
         "spaces."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations-risk/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/miscellaneous/#websockets",
    ),
    errors=(
        "annotation nginx.ingress.kubernetes.io/<name> contains invalid value",
        "validation error on ingress <ns>/<name>: annotation <name> contains invalid value <value>",
        "rewrite-target is invalid, defaulting to empty",
        "use-regex is invalid, defaulting to 'false'",
        "Annotation app-root contains an invalid value",
        "Annotation app-root only allows absolute paths",
        "Using HTTP as protocol",
        "value <value> contains malicious string",
        "json: cannot unmarshal <type> into Go struct field ObjectMeta.metadata.annotations of type string",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not nginx.is_ingress(obj):
        return
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    assumption = controller.assumed
    prefix = values.annotation_prefix(controller)
    for key in sorted(obj.annotations, key=str):
        raw = obj.annotations[key]
        field = ("metadata", "annotations", key)
        if raw is not None and not isinstance(raw, str):
            yield _non_string(ctx, obj, field, str(key), raw)
            continue
        if not isinstance(key, str) or not key.startswith(prefix) or raw is None:
            continue
        name = key[len(prefix):]
        if name in values.LOCATION_DENIED:
            continue  # admitted, then 503 on every location: RG125
        refused = values.refusal(name, raw)
        if refused is None:
            continue
        yield _refused(ctx, obj, field, key, name, raw, refused, controller, assumption)
    # The plugin lint's old mistake (facts §4.1/§7): a boolean where a prefix path belongs.
    xfp = obj.annotations.get(prefix + "x-forwarded-prefix")
    if isinstance(xfp, str) and xfp.strip().lower() in ("true", "false"):
        yield ctx.finding(
            obj, ("metadata", "annotations", prefix + "x-forwarded-prefix"),
            "The x-forwarded-prefix annotation value is a boolean instead of a string: since "
            f"controller 0.24 it is the prefix itself, so the backend receives "
            f"X-Forwarded-Prefix: {xfp.strip()}",
            severity="warning",
            fix="Set x-forwarded-prefix to the path prefix the Ingress strips, e.g. \"/ray\".")


_JSON_TYPES = {bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _non_string(ctx: Context, obj: KubeObject, field: tuple[str, ...], key: str,
                raw: Any) -> Finding:
    json_type = _JSON_TYPES.get(type(raw), "number")
    shown = "true" if raw is True else "false" if raw is False else str(raw)
    return ctx.finding(
        obj, field,
        DECODE.format(file=obj.origin.file, json_type=json_type)
        + f" ({key} is the unquoted YAML {json_type} {shown}; the API refuses the whole Ingress)",
        fix=f'Quote the value: {key}: "{shown}".')


def _refused(ctx: Context, obj: KubeObject, field: tuple[str, ...], key: str, name: str,
             raw: str, refused: values.Refusal, controller: nginx.Controller,
             assumption: str | None) -> Finding:
    check_ = values.CHECKS.get(name)
    outcome = check_.outcome if check_ is not None else values.UNVERIFIED
    shown = json.dumps(raw if len(raw) <= 60 else raw[:57] + "...")
    what = f"{name}: {shown} {refused.reason}"
    fix = (f'Set {key}: "{refused.suggestion}".' if refused.suggestion
           else None)
    log_line = (f"validation error on ingress {obj.namespace}/{obj.name}: annotation {name} "
                f"contains invalid value {raw.strip()}")
    unvalidated = check_ is not None and not check_.parser_checks \
        and not values.validation_enabled(controller)
    if unvalidated and name == "proxy-body-size" and not nginx.template_writes_size(raw):
        # nginx.tmpl guards client_max_body_size with isValidByteSize (since v0.34.0), so the
        # unchecked value is simply not written: no reload failure, nginx's own 1m applies.
        return ctx.finding(
            obj, field,
            f"{what}; annotation validation is off ({_validation_source(controller)}), so the "
            "value reaches the location, but nginx.tmpl writes client_max_body_size only for "
            f"values like 100m and nginx's default {nginx.NGINX_DEFAULT_BODY_SIZE} applies",
            severity="warning", fix=fix, assumption=assumption)
    if unvalidated:
        # With validation off only the parser's own checks run (facts §1.1: the flag gates the
        # per-value validators), so the value is written into nginx.conf as it is (derived).
        return ctx.finding(
            obj, field,
            f"{what}; annotation validation is off ({_validation_source(controller)}), so the "
            "controller writes it into nginx.conf unchecked and a bad directive fails the reload "
            "(\"Error reloading NGINX\")",
            severity="warning", fix=fix, assumption=assumption)
    if outcome == values.DENY:
        if not controller.admission_webhook:
            return ctx.finding(
                obj, field,
                f"{controller.no_webhook}, but {nginx.SKIPPED_BY_SYNC} (log: annotation {key} "
                f"contains invalid value) ({what})",
                fix=fix, assumption=assumption)
        return ctx.finding(
            obj, field,
            INVALID.format(webhook=nginx.WEBHOOK_NAME, key=key) + f" ({what})",
            fix=fix, assumption=assumption)
    if outcome == values.FALLBACK:
        assert check_ is not None
        instead = values.fallback_text(check_, controller)
        logged = (f"only logs \"{log_line}\"" if values.validation_enabled(controller)
                  else "only logs a parse warning")
        return ctx.finding(
            obj, field,
            f"{what}; the controller silently keeps {instead} and {logged}",
            severity="warning", fix=fix, assumption=assumption)
    return ctx.finding(
        obj, field,
        f"{what}; ingress-nginx logs \"{log_line}\" and either denies the Ingress (annotation "
        f"{key} contains invalid value) or ignores the annotation (which one was not verified "
        "for this annotation)",
        severity="warning", fix=fix, assumption=assumption)


def _validation_source(controller: nginx.Controller) -> str:
    if "--enable-annotation-validation" in controller.flags:
        flag = controller.flags["--enable-annotation-validation"]
        return f"--enable-annotation-validation={flag}"
    return f"default before v1.12.0; controller is {controller.version_str}"
