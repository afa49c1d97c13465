"""RG102 annotation-over-risk-level: an annotation riskier than the controller's risk level.

Every ``nginx.ingress.kubernetes.io/*`` annotation carries a risk (Low..Critical, the project's
risk table derived from facts ``ingress_nginx_annotation_risk.csv``). The controller refuses any
annotation above its ``annotations-risk-level`` (facts: ingress_nginx.md §1.1, §1.3 step 9): the
webhook denies the whole Ingress with ``annotation group <Group> contains risky annotation based
on ingress configuration``, and without the webhook the Ingress is silently left out of the
configuration. Two traps make this bite unexpectedly: a misspelled level (``Hihg``) means Low,
which refuses every Medium annotation such as ``rewrite-target`` and ``proxy-body-size``; and
since v1.15.0/v1.14.4/v1.13.8 aliases (``whitelist-source-range``) are checked too.
Snippets are RG101's business (they fail earlier, on the snippet switch).
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane, heads
from raygate.objects import KubeObject
from raygate.records import replace
from raygate.rules import Context, rule
from raygate.rules.security import _annotation_values as values

RISKY = ('admission webhook "{webhook}" denied the request: annotation group {group} contains '
         "risky annotation based on ingress configuration")
#: Alias -> canonical annotation (``AnnotationAliases``, facts §1.1).
ALIASES = {"whitelist-source-range": "allowlist-source-range",
           "limit-whitelist": "limit-allowlist"}


def aliases_risk_checked(version: tuple[int, int, int]) -> bool:
    """"Annotations: Consider aliases in risk evaluation" landed in v1.15.0, v1.14.4, v1.13.8."""
    return (version >= (1, 15, 0) or (1, 14, 4) <= version < (1, 15, 0)
            or (1, 13, 8) <= version < (1, 14, 0))


@rule(
    code="RG102",
    name="annotation-over-risk-level",
    layer="security",
    severity="error",
    kinds=("Ingress", "RayCluster", "RayService", "RayJob"),
    title="Annotation whose risk exceeds the controller's annotations-risk-level",
    rationale="""
        Since v1.9 each ingress-nginx annotation has a risk level and the controller refuses
        annotations above its `annotations-risk-level` ConfigMap setting (default `Critical` in
        v1.9-v1.11, `High` since v1.12). The admission webhook then denies the whole Ingress
        (`kubectl apply` fails), and where no webhook runs the controller drops the Ingress from
        its configuration with only a log line: the Dashboard route simply is not there.
        Hardened clusters lower the level to `Medium` (it blocks `auth-url`, `mirror-*` and the
        other High annotations abused by the IngressNightmare CVEs), which also refuses
        `auth-url` used for oauth2-proxy in front of Ray. A misspelled level means `Low`, which
        refuses every Medium annotation a Ray Dashboard needs (`rewrite-target`,
        `proxy-body-size`, `x-forwarded-prefix`). Aliases such as `whitelist-source-range` are
        checked like their canonical name since v1.15.0/v1.14.4/v1.13.8.
    """,
    fix=("Remove the annotation, or set the controller ConfigMap's annotations-risk-level to at "
         "least the annotation's risk."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations-risk/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#annotations-risk-level",
    ),
    errors=(
        "annotation group <group> contains risky annotation based on ingress configuration",
        "annotation <key> is too risky for environment",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    ingress, built = heads.ingress_for_annotations(obj)
    if ingress is None or not nginx.is_ingress(ingress):
        return
    for f in _check(obj, ingress, ctx):
        yield replace(f, message=f.message + built) if built else f


def _check(obj: KubeObject, ingress: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, ingress)
    if controller is None:
        return
    if controller.version_known and controller.version < (1, 9, 0):
        return  # no risk model before v1.9
    risks = nginx.annotation_risks()
    prefix = values.annotation_prefix(controller)
    max_risk = controller.max_risk
    level = controller.setting("annotations-risk-level")
    source = controller.setting_source("annotations-risk-level")
    misspelled = level.strip().lower() not in nginx.RISK_LEVELS
    for key in sorted(k for k in ingress.annotations if isinstance(k, str)):
        if not key.startswith(prefix) or key.endswith("-snippet"):
            continue
        suffix = key[len(prefix):]
        entry = risks.get(nginx.PREFIX + suffix)
        if entry is None:
            continue  # unknown keys are ignored by the controller (facts §1.1)
        risk, group = entry
        if risk <= max_risk:
            continue
        if suffix in ALIASES and not aliases_risk_checked(controller.version):
            continue  # older controllers skip aliases in the risk check
        alias_note = (f", as an alias of {ALIASES[suffix]}" if suffix in ALIASES else "")
        level_note = (f'annotations-risk-level "{level}" is not a level the controller knows, '
                      f"so it means Low ({source})" if misspelled
                      else f"annotations-risk-level is {level} ({source})")
        needed = nginx.RISK_NAMES[risk]
        if misspelled:
            fix = (f'Correct annotations-risk-level "{level}" to one of Critical, High, Medium or '
                   f"Low (at least {needed} to keep {suffix}).")
        else:
            where = (f"ConfigMap {controller.configmap.namespace}/{controller.configmap.name}"
                     if controller.configmap is not None else "the controller ConfigMap")
            fix = (f"Remove {key}, or set annotations-risk-level: {needed} in {where} if the "
                   "cluster accepts that risk.")
        text = RISKY.format(webhook=nginx.WEBHOOK_NAME, group=group)
        if not controller.admission_webhook:
            text = (f"{controller.no_webhook}, but {nginx.SKIPPED_BY_SYNC} (log: annotation "
                    f"group {group} contains risky annotation based on ingress configuration)")
        yield ctx.finding(
            obj, ("metadata", "annotations", key),
            text + f" ({suffix} is {needed}{alias_note}; {level_note})",
            fix=fix,
            assumption=controller.assumed)
