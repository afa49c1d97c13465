"""RG306 ingress-class-missing: an Ingress no controller will pick up, or one the API refuses.

ingress-nginx resolves an Ingress's class in order: ``spec.ingressClassName`` (an IngressClass
whose ``spec.controller`` is its ``--controller-class``), else the deprecated annotation
``kubernetes.io/ingress.class`` (must equal ``--ingress-class``), else only with
``--watch-ingress-without-class`` (default false); otherwise it logs ``Ignoring ingress because of
error while validating ingress class`` with ``ingress does not contain a valid IngressClass``
and the Dashboard route never exists (facts: ingress_nginx.md §3.3). The DefaultIngressClass
admission plugin fills the class in on creation when exactly one IngressClass is marked default
(facts: gateway_api_metallb.md §9.5). The API itself rejects an Ingress whose annotation and
``ingressClassName`` disagree (facts: gateway_api_metallb.md §9.2, ingress_nginx.md §3.3). The
seed guide's best practices ask for ``ingressClassName`` over the annotation.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule

ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
NO_CLASS_LOG = ("Ignoring ingress because of error while validating ingress class: "
                "ingress does not contain a valid IngressClass")
MISMATCH_API = "must match `ingressClassName` when both are specified"
WRONG_ANNOTATION_LOG = "ingress class annotation is not equal to the expected by Ingress Controller"


@rule(
    code="RG306",
    name="ingress-class-missing",
    layer="infrastructure",
    severity="warning",
    kinds=("Ingress",),
    title="Ingress without a usable ingress class",
    rationale="""
        ingress-nginx only serves Ingresses of its class. An Ingress with neither
        `spec.ingressClassName` nor the old `kubernetes.io/ingress.class` annotation is
        ignored (the default `--watch-ingress-without-class=false`) unless an IngressClass is
        marked default when the Ingress is created, so `kubectl apply` succeeds and the
        Dashboard path still answers 404. The annotation is deprecated in favour of
        `spec.ingressClassName` and only matched against the controller's `--ingress-class` flag; when both the
        annotation and `ingressClassName` are set they must agree or the API server refuses
        the object. A class name that matches none of the IngressClasses present is served by
        no controller.
    """,
    fix="Set spec.ingressClassName to the controller's IngressClass (nginx for the default ingress-nginx install).",
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-class",
        "https://kubernetes.github.io/ingress-nginx/user-guide/multiple-ingress/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/k8s-122-migration/",
    ),
    errors=(
        "ingress does not contain a valid IngressClass",
        "Ignoring ingress because of error while validating ingress class",
        "must match `ingressClassName` when both are specified",
        "ingress class annotation is not equal to the expected by Ingress Controller",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not nginx.is_ingress(obj):
        return
    raw_name = obj.spec.get("ingressClassName")
    class_name = raw_name if isinstance(raw_name, str) and raw_name else None
    raw_annotation = obj.annotations.get(ANNOTATION)
    annotation = str(raw_annotation) if raw_annotation not in (None, "") else None
    annotation_field = ("metadata", "annotations", ANNOTATION)

    if class_name and annotation is not None and annotation != class_name:
        yield ctx.finding(
            obj, annotation_field,
            f"the API server refuses this Ingress: {ANNOTATION} \"{annotation}\" "
            f"{MISMATCH_API} (ingressClassName is \"{class_name}\")",
            severity="error",
            fix=f"Remove the {ANNOTATION} annotation and keep spec.ingressClassName: {class_name}.")
    if class_name:
        yield from _unknown_class(obj, ctx, class_name)
        return
    if annotation is not None:
        yield from _annotation_only(obj, ctx, annotation, annotation_field)
        return
    yield from _no_class(obj, ctx)


def _annotation_only(obj: KubeObject, ctx: Context, annotation: str,
                     field: tuple[str, ...]) -> Iterable[Finding]:
    controllers = nginx.find_controllers(ctx.objects)
    fix = f"Replace the {ANNOTATION} annotation with spec.ingressClassName: {annotation}."
    if controllers and not any(c.ingress_class == annotation for c in controllers):
        expected = ", ".join(sorted({c.ingress_class for c in controllers}))
        yield ctx.finding(
            obj, field,
            f"{ANNOTATION}: \"{annotation}\" matches no controller's --ingress-class "
            f"({expected}): the controller logs \"{WRONG_ANNOTATION_LOG}\" and ignores this Ingress",
            fix=f"Set spec.ingressClassName to the controller's class ({expected}) and remove the {ANNOTATION} annotation.")
        return
    yield ctx.finding(
        obj, field,
        f"the class is only given by the deprecated {ANNOTATION} annotation (\"{annotation}\"); "
        "ingress-nginx still honours it through the deprecated --ingress-class flag, but "
        "Gateway API migration tools and other controllers read spec.ingressClassName",
        severity="info", fix=fix)


def _no_class(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    defaults = _default_classes(ctx.objects)
    if len(defaults) == 1:
        return  # DefaultIngressClass admission fills in the class on creation
    controllers = nginx.find_controllers(ctx.objects)
    if any(c.flags.get("--watch-ingress-without-class", "false").lower() == "true" for c in controllers):
        return
    controller = nginx.controller_for_ingress(ctx.objects, obj)
    reason = ("more than one IngressClass is marked default, so the API server refuses to "
              "create it" if len(defaults) > 1 else
              f"the controller ignores it (--watch-ingress-without-class is false) and logs "
              f"\"{NO_CLASS_LOG}\"")
    yield ctx.finding(
        obj, ("spec",),
        f"Ingress {obj.name} has no spec.ingressClassName and no {ANNOTATION} annotation: {reason}",
        severity="error" if len(defaults) > 1 else None,
        fix=f"Set spec.ingressClassName: {controller.ingress_class}.",
        assumption=controller.assumption if controller.workload is None else None)


def _unknown_class(obj: KubeObject, ctx: Context, class_name: str) -> Iterable[Finding]:
    classes = ctx.objects.of_kind("IngressClass")
    if not classes or any(c.name == class_name for c in classes):
        return
    present = sorted(c.name for c in classes)
    yield ctx.finding(
        obj, ("spec", "ingressClassName"),
        f"ingressClassName \"{class_name}\" names no IngressClass in the inputs "
        f"(present: {', '.join(present)}): no controller serves this Ingress",
        fix=f"Set spec.ingressClassName to one of the IngressClasses present ({', '.join(present)}).")


def _default_classes(objects: ObjectSet) -> list[KubeObject]:
    return objects.memo("ingress-default-classes", lambda: [
        c for c in objects.of_kind("IngressClass")
        if str(c.annotations.get(DEFAULT_CLASS, "")).lower() == "true"])
