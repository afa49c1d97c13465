"""RG101 snippet-annotation: a ``*-snippet`` annotation the admission webhook will deny.

This is the guide's first root cause ("risky annotation"). The webhook checks snippets in two
places (facts: ingress_nginx.md §1.3): with ``allow-snippet-annotations: "false"`` (default since
v1.9) *any* key ending in ``-snippet`` is refused, whatever its prefix; with snippets allowed,
the risk check still refuses the Critical snippet annotations unless ``annotations-risk-level``
is ``Critical`` (default ``High`` since v1.12). Only when both gates are open is a snippet
accepted, and then it is still arbitrary nginx config injected by whoever can edit an Ingress.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane, heads
from raygate.objects import KubeObject
from raygate.records import replace
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
        # controller.go CheckIngress (webhook), controller-v1.15.1
        "<key> annotation cannot be used. Snippet directives are disabled by the Ingress administrator",
        # errors.go NewRiskyAnnotations, via annotations.go Extract
        "annotation group <group> contains risky annotation based on ingress configuration",
        # controller.go dropSnippetDirectives (no webhook, risk level Critical): V(3) log
        'Ingress "<ns>/<name>" tried to use <key> and the annotation is disabled by the admin. '
        "Removing the annotation",
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
        return  # another class, or outside --watch-namespace: the webhook admits it untouched
    risks = nginx.annotation_risks()
    for key in sorted(ingress.annotations):
        if not key.endswith("-snippet"):
            continue
        field = ("metadata", "annotations", key)
        risk, group = risks.get(key, (3, "ConfigurationSnippet"))
        if not controller.admission_webhook:
            yield from _without_webhook(ctx, obj, ingress, field, key, risk, group, controller)
            continue
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


def _without_webhook(ctx: Context, obj: KubeObject, ingress: KubeObject, field: tuple, key: str,
                     risk: int, group: str, controller: nginx.Controller) -> Iterable[Finding]:
    """No webhook: nothing denies the Ingress, and what happens depends on the store's order
    (store.go syncIngress, controller.go getBackendServers at controller-v1.15.1). Extract runs
    the risk check first: a snippet above annotations-risk-level fails it and the whole Ingress
    is left out. Within the level, a disallowed snippet is dropped by dropSnippetDirectives."""
    if not key.startswith(controller.annotations_prefix):
        return  # only the webhook looks at any *-snippet key; the store ignores foreign keys
    if risk > controller.max_risk:
        yield ctx.finding(
            obj, field,
            f"{controller.no_webhook}, but {nginx.SKIPPED_BY_SYNC} (log: annotation group "
            f"{group} contains risky annotation based on ingress configuration): {key} is "
            f"Critical; annotations-risk-level is {controller.setting('annotations-risk-level')}",
            assumption=controller.assumed)
    elif not controller.snippets_allowed:
        short = key[len(controller.annotations_prefix):]
        yield ctx.finding(
            obj, field,
            f"{controller.no_webhook}; allow-snippet-annotations is false, so the controller "
            f"silently drops the snippet (log at -v=3: Ingress \"{ingress.namespace}/{ingress.name}\" "
            f"tried to use {short} and the annotation is disabled by the admin. Removing the "
            "annotation) and the route runs without it",
            severity="warning", assumption=controller.assumed)
    else:
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
