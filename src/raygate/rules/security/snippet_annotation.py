"""RG101 snippet-annotation: a ``*-snippet`` annotation the admission webhook will deny.

This is the guide's first root cause ("risky annotation"). The webhook checks snippets in two
places (facts: ingress_nginx.md §1.3): with ``allow-snippet-annotations: "false"`` (default since
v1.9) *any* key ending in ``-snippet`` is refused, whatever its prefix; with snippets allowed,
the risk check still refuses the Critical snippet annotations unless ``annotations-risk-level``
is ``Critical`` (default ``High`` since v1.12). Only when both gates are open is a snippet
accepted, and then it is still arbitrary nginx config injected by whoever can edit an Ingress.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane, heads
from raygate.objects import KubeObject
from raygate.rules import Context, rule

DENIED = ('admission webhook "{webhook}" denied the request: {key} annotation cannot be used. '
          "Snippet directives are disabled by the Ingress administrator")
RISKY = ('admission webhook "{webhook}" denied the request: annotation group {group} contains '
         "risky annotation based on ingress configuration")


@rule(
    code="RG101",
    name="snippet-annotation",
    layer="security",
    severity="error",
    kinds=("Ingress", "RayCluster", "RayService", "RayJob"),
    title="Snippet annotation the ingress-nginx admission webhook denies",
    rationale="""
        Snippet annotations (`configuration-snippet`, `server-snippet`, `stream-snippet`,
        `auth-snippet`, `modsecurity-snippet`) paste raw nginx configuration into the
        controller. Since controller v1.9 `allow-snippet-annotations` defaults to `false`, and
        since v1.12 `annotations-risk-level` defaults to `High`, which is below the snippets'
        `Critical` risk, so the admission webhook denies the whole Ingress: `kubectl apply`
        fails and the Dashboard route never exists. Where snippets are still accepted they are
        a code-injection path (CVE-2021-25742) into a controller that can read every Secret.
    """,
    fix=("Remove the snippet: use the dedicated annotation for the behaviour "
         "(e.g. proxy-body-size, proxy-read-timeout, permanent-redirect), or set global "
         "headers in the controller ConfigMap instead of per-Ingress snippets."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations-risk/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#allow-snippet-annotations",
    ),
    errors=(
        "<key> annotation cannot be used. Snippet directives are disabled by the Ingress administrator",
        "annotation group <group> contains risky annotation based on ingress configuration",
        "denied the request: risky annotation",
        "tried to use configuration-snippet and the annotation is disabled by the admin",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    ingress, built = heads.ingress_for_annotations(obj)
    if ingress is None:
        return
    for f in _check(obj, ingress, ctx):
        yield replace(f, message=f.message + built) if built else f


def _check(obj: KubeObject, ingress: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, ingress)
    if controller is None:
        return  # not served by ingress-nginx: its annotations mean nothing there
    risks = nginx.annotation_risks()
    for key in sorted(ingress.annotations):
        if not key.endswith("-snippet"):
            continue
        field = ("metadata", "annotations", key)
        risk, group = risks.get(key, (3, "ConfigurationSnippet"))
        if not controller.snippets_allowed:
            yield ctx.finding(
                obj, field,
                DENIED.format(webhook=nginx.WEBHOOK_NAME, key=key)
                + f" (allow-snippet-annotations is false: {_source(controller, 'allow-snippet-annotations')})",
                assumption=controller.assumed)
        elif key.startswith(nginx.PREFIX) and risk > controller.max_risk:
            level = controller.setting("annotations-risk-level")
            yield ctx.finding(
                obj, field,
                RISKY.format(webhook=nginx.WEBHOOK_NAME, group=group)
                + f" ({key} is Critical; annotations-risk-level is {level}: "
                f"{_source(controller, 'annotations-risk-level')})",
                assumption=controller.assumed)
        elif key.startswith(nginx.PREFIX):
            yield ctx.finding(
                obj, field,
                f"{key} is accepted only because the controller allows snippets and Critical "
                "annotations; it injects raw nginx config that raygate cannot check",
                severity="warning")


def _source(controller: nginx.Controller, key: str) -> str:
    """Where a setting came from, short: the ConfigMap, or the version's default."""
    if key in controller.config and controller.configmap is not None:
        return f"ConfigMap {controller.configmap.namespace}/{controller.configmap.name}"
    return f"the {controller.version_str} default"
