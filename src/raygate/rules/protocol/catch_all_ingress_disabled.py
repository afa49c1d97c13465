"""RG234 catch-all-ingress-disabled: ``spec.defaultBackend`` on a controller with
``--disable-catch-all``.

controller.go ``CheckIngress`` (since v0.46.0; controller-v1.15.1) denies it: ``this deployment
is trying to create a catch-all ingress while DisableCatchAll flag is set to true. Remove
'.spec.defaultBackend' or set DisableCatchAll flag to false``. Without the webhook the store
ignores the whole Ingress ("Ignoring add for catch-all ingress because of --disable-catch-all",
store.go), rules included.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule

DENIAL = ("this deployment is trying to create a catch-all ingress while DisableCatchAll flag is "
          "set to true. Remove '.spec.defaultBackend' or set DisableCatchAll flag to false")


@rule(
    code="RG234",
    name="catch-all-ingress-disabled",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    title="Catch-all Ingress (spec.defaultBackend) on a controller run with --disable-catch-all",
    rationale="""
        KubeRay samples and quick-start manifests often route everything to the Ray head with
        `spec.defaultBackend`. A controller started with `--disable-catch-all` refuses such
        Ingresses: the webhook denies them, and without the webhook the controller ignores the
        whole Ingress, its host rules included, with one log line.
    """,
    fix="Replace spec.defaultBackend with a rule (host and path /) pointing at the same Service.",
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/",
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/controller.go",
    ),
    errors=(
        DENIAL,
        '"Ignoring add for catch-all ingress because of --disable-catch-all" ingress="<ns>/<name>"',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not isinstance(obj.spec.get("defaultBackend"), dict):
        return
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    if not controller.disable_catch_all:
        return
    if controller.admission_webhook and nginx.has_behaviour(controller, "catch-all-denial"):
        message = f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: {DENIAL}'
    else:
        message = (f"{controller.no_webhook}, but {controller.ref} runs with --disable-catch-all "
                   "and ignores the whole Ingress, rules included (\"Ignoring add for catch-all "
                   "ingress because of --disable-catch-all\")")
    yield ctx.finding(obj, ("spec", "defaultBackend"), message)
