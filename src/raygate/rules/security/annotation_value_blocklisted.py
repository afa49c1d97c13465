"""RG126 annotation-value-blocklisted: an annotation value containing a blocklisted word.

The controller ConfigMap's ``annotation-value-word-blocklist`` (default empty; added for
CVE-2021-25742 in v1.0.5) is a comma-separated list of substrings. controller.go
``CheckIngress`` (webhook, controller-v1.15.1) denies an Ingress when any annotation under the
controller's prefix contains one of them, after trimming each word: ``<key> annotation contains
invalid word <word>``. store.go ``checkBadAnnotationValue`` does the same without trimming and
skips the Ingress (``skipping ingress <ns>/<name>: ...``), so without a webhook the route is
silently absent. A trailing comma yields an empty word, contained in every value.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane
from raygate.objects import KubeObject
from raygate.rules import Context, rule

KEY = "annotation-value-word-blocklist"


@rule(
    code="RG126",
    name="annotation-value-blocklisted",
    layer="security",
    severity="error",
    kinds=("Ingress",),
    title="Annotation value containing a word of the controller's annotation-value-word-blocklist",
    rationale="""
        Hardened ingress-nginx installs set `annotation-value-word-blocklist` (the docs
        suggest `load_module,lua_package,_by_lua,location,root,proxy_pass,serviceaccount,{,},',"`).
        Any annotation value that merely contains one of those substrings is refused: a Ray
        `rewrite-target` or `auth-url` containing `{`, or a path with `location`, makes
        `kubectl apply` fail with `<key> annotation contains invalid word <word>`. Without the
        admission webhook the controller skips the Ingress with only a log line, and the Ray
        route is simply absent. A trailing comma in the list blocks every annotation.
    """,
    fix=("Remove the word from the annotation value, or remove it (and any trailing comma) from "
         "the controller ConfigMap's annotation-value-word-blocklist."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#annotation-value-word-blocklist",
        "https://github.com/kubernetes/ingress-nginx/issues/7837",
    ),
    errors=(
        "<key> annotation contains invalid word <word>",
        "skipping ingress <ns>/<name>: <key> annotation contains invalid word <word>",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    controller = dataplane.controller_of(ctx.objects, obj)
    if controller is None:
        return
    if not nginx.has_behaviour(controller, "word-blocklist"):
        return
    blocklist = controller.setting(KEY)
    hit = nginx.blocklist_hit(obj.annotations, blocklist, controller.annotations_prefix,
                              webhook=controller.admission_webhook)
    if hit is None:
        return
    key, word = hit
    text = f"{key} annotation contains invalid word {word}"
    empty = " (an empty word from a stray comma in the list matches every value)" \
        if word.strip() == "" else ""
    source = controller.setting_source(KEY)
    if controller.admission_webhook:
        message = (f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: {text}'
                   f"{empty} (annotation-value-word-blocklist from {source})")
    else:
        message = (f"{controller.no_webhook}, but the controller skips it: skipping ingress "
                   f"{obj.namespace}/{obj.name}: {text}{empty} (annotation-value-word-blocklist "
                   f"from {source})")
    yield ctx.finding(obj, ("metadata", "annotations", key), message,
                      assumption=controller.assumed)
