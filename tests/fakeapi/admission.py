"""An ingress-nginx validating webhook for the fake API server, built on raygate's catalog.

The hook answers the way the real webhook does (facts: ingress_nginx.md §1.3): it only
judges Ingresses of a class served by an ingress-nginx controller stored in the fake, reads
that controller's version and ConfigMap as context, and denies with the first failing check
in the webhook's order (strict path type, snippets, annotation risk, invalid values), with
the exact text ``admission webhook "validate.nginx.ingress.kubernetes.io" denied the
request: <message>``.

Whether to deny is decided by running raygate's own rules (RG207, RG101, RG102, RG103) on the
object in the context of the stored controller objects. So a dry-run in a doctor test shows
the denial a real cluster would give, and if a rule drifts from the webhook the tests notice.
A check whose rule is not in the catalog falls back to the controller model in
``raygate.backends.ingress_nginx`` so the hook still behaves like the webhook.
"""

from __future__ import annotations

from typing import Any, Callable

from raygate import engine
from raygate.backends import ingress_nginx as nginx
from raygate.objects import KubeObject, ObjectSet, Origin
from raygate.rules import CATALOG

PREFIX = f'admission webhook "{nginx.WEBHOOK_NAME}" denied the request: '
#: The webhook's check order (controller.go CheckIngress at controller-v1.15.1): deep
#: inspection, catch-all, path type, the per-annotation loop (custom prefix, word blocklist,
#: snippets), Extract (risk, value validation), host/path overlap.
WEBHOOK_RULES = ("RG128", "RG234", "RG207", "RG127", "RG126", "RG101", "RG102", "RG103",
                 "RG235")
_CONTEXT_KINDS = ("Deployment", "DaemonSet", "ConfigMap", "IngressClass")


def ingress_nginx_admission(server: Any) -> Callable[[dict, str], "str | None"]:
    """The hook to assign to ``server.admission``."""

    def admit(obj: dict, operation: str) -> str | None:
        if obj.get("kind") != "Ingress" or operation not in ("CREATE", "UPDATE"):
            return None
        context = [KubeObject(o, Origin("cluster:fake")) for kind in _CONTEXT_KINDS
                   for o in server.objects(kind)]
        # CheckIngress appends the Ingress under review after every stored one, whatever its
        # (already assigned) creationTimestamp: judge it as not created yet.
        reviewed = {**obj, "metadata": {k: v for k, v in (obj.get("metadata") or {}).items()
                                        if k != "creationTimestamp"}}
        ingress = KubeObject(reviewed, Origin("cluster:fake"))
        # The other Ingresses the controller already has (checkOverlap); an update replaces
        # the stored version of the same object.
        others = [KubeObject(o, Origin("cluster:fake")) for o in server.objects("Ingress")
                  if (o.get("metadata") or {}).get("name") != ingress.name
                  or (o.get("metadata") or {}).get("namespace") != ingress.namespace]
        objects = ObjectSet(context + others + [ingress])
        if not _served(objects, ingress):
            return None  # class not handled by this controller: the webhook allows it
        if not nginx.controller_for_ingress(objects, ingress).admission_webhook:
            return None  # no --validating-webhook: nothing is denied
        message = webhook_message(objects, ingress)
        return PREFIX + message if message else None

    return admit


def _served(objects: ObjectSet, ingress: KubeObject) -> bool:
    controllers = nginx.find_controllers(objects)
    if not controllers:
        return False
    cls = nginx.ingress_class_of(ingress)
    if cls is None:
        return True
    ic = objects.get("IngressClass", "", cls)
    wanted = ic.spec.get("controller") if ic is not None else None
    return any((wanted and c.controller_class == wanted) or (not wanted and c.ingress_class == cls)
               for c in controllers)


def webhook_message(objects: ObjectSet, ingress: KubeObject) -> str | None:
    """The webhook's denial message (without the apiserver prefix), or None if admitted."""
    rules = {code: CATALOG.find(code) for code in WEBHOOK_RULES}
    present = [r for r in rules.values() if r is not None]
    result = engine.run(objects, rules=present) if present else None
    for code in WEBHOOK_RULES:
        rule = rules[code]
        if rule is None:
            message = _model_check(code, objects, ingress)
        else:
            found = [f for f in result.findings if f.code == code and f.severity.value == "error"
                     and f.object.name == ingress.name and f.object.namespace == ingress.namespace]
            if not found:
                continue
            message = _from_finding(found[0].message) or _model_check(code, objects, ingress)
            if message is None:
                # The rule fired but the model has no text for it: still a denial.
                message = found[0].message
        if message:
            return message
    return None


def _from_finding(text: str) -> str | None:
    """The webhook's own words inside a finding message (dropping raygate's explanation)."""
    idx = text.find("denied the request: ")
    if idx < 0:
        return None
    message = text[idx + len("denied the request: "):]
    return _strip_explanation(message).strip()


def _strip_explanation(text: str) -> str:
    """Drop one trailing `` (...)`` with balanced parentheses."""
    if not text.endswith(")"):
        return text
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return text[:i] if i > 0 and text[i - 1] == " " else text
    return text


def _model_check(code: str, objects: ObjectSet, ingress: KubeObject) -> str | None:
    controller = nginx.controller_for_ingress(objects, ingress)
    if code == "RG207":
        if not controller.strict_path_type:
            return None
        bad = [f"path {p.get('path')} cannot be used with pathType {p.get('pathType') or '<nil>'}"
               for _, p, _ in nginx.ingress_paths(ingress)
               if p.get("pathType") != "ImplementationSpecific"
               and not nginx.VALID_PATH_TYPE_RE.match(str(p.get("path") or ""))]
        return "ingress contains invalid paths: " + "\n".join(bad) if bad else None
    if code == "RG101":
        if controller.snippets_allowed:
            return None
        for key in sorted(ingress.annotations):
            if key.endswith("-snippet"):
                return (f"{key} annotation cannot be used. Snippet directives are disabled by "
                        "the Ingress administrator")
        return None
    if code == "RG102":
        risks = nginx.annotation_risks()
        for key in sorted(ingress.annotations):
            risk, group = risks.get(key, (0, ""))
            if key.startswith(nginx.PREFIX) and risk > controller.max_risk:
                return f"annotation group {group} contains risky annotation based on ingress configuration"
        return None
    if code == "RG103":
        return None  # value validation lives only in the rule (validators are per annotation)
    return None

