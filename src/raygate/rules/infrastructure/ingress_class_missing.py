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
seed guide's best practices ask for ``ingressClassName`` over the annotation. Who serves the
Ingress is decided once, in ``raygate.model.dataplane`` (store.go ``GetIngressClass`` and
``watchedNamespace`` at controller-v1.15.1): another controller's class is its business, and an
ingress-nginx class that no controller in the inputs takes is reported with the reason.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.model import dataplane
from raygate.findings import Finding
from raygate.objects import KubeObject
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
        no controller. A class whose IngressClass names another controller (ALB, Traefik,
        Kong...) is that controller's business; an ingress-nginx class that no controller in
        the inputs takes (another `--controller-class`, or the Ingress's namespace outside
        `--watch-namespace`/`--watch-namespace-selector`) is reported with the reason.
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
        # ingressClassName names an IngressClass this controller does not keep (another
        # --controller-class): store.go NotExistsError, then the update handler's log line.
        'no object matching key "<class>" in local store',
        "removing ingress because of unknown ingressclass",
        "ignoring ingressclass as the spec.controller is not the same of this ingress",
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
    plane = dataplane.for_ingress(ctx.objects, obj)
    if plane.namespace_excluded_by:
        return  # its class is served, only not in this namespace: RG325 says so
    if class_name:
        yield from _named_class(obj, ctx, class_name, plane)
        return
    if annotation is not None:
        yield from _annotation_only(obj, ctx, annotation, annotation_field, plane)
        return
    yield from _no_class(obj, ctx, plane)


def _annotation_only(obj: KubeObject, ctx: Context, annotation: str,
                     field: tuple[str, ...], plane: dataplane.DataPlane) -> Iterable[Finding]:
    fix = f"Replace the {ANNOTATION} annotation with spec.ingressClassName: {annotation}."
    if plane.kind == "none" and plane.profile is None:
        controllers = nginx.find_controllers(ctx.objects)
        expected = ", ".join(sorted({c.ingress_class for c in controllers}))
        yield ctx.finding(
            obj, field,
            f"{ANNOTATION}: \"{annotation}\" matches no controller's --ingress-class "
            f"({expected}): the controller logs \"{WRONG_ANNOTATION_LOG}\" and ignores this "
            f"Ingress ({plane.reason})",
            fix=f"Set spec.ingressClassName to the controller's class ({expected}) and remove the {ANNOTATION} annotation.")
        return
    if plane.profile is not None and not plane.profile.reads_ingress_class_name:
        return  # that controller reads only the annotation (GKE Ingress)
    who = "ingress-nginx" if plane.is_ingress_nginx else plane.title
    yield ctx.finding(
        obj, field,
        f"the class is only given by the deprecated {ANNOTATION} annotation (\"{annotation}\"); "
        f"{who} still honours it, but Gateway API migration tools and other controllers read "
        "spec.ingressClassName",
        severity="info", fix=fix)


def _no_class(obj: KubeObject, ctx: Context, plane: dataplane.DataPlane) -> Iterable[Finding]:
    defaults = dataplane.default_classes(ctx.objects)
    if len(defaults) == 1 and plane.kind != "none":
        return  # DefaultIngressClass admission fills in the class on creation
    if plane.kind != "none" and not plane.assumed:
        return  # a controller in the inputs takes class-less Ingresses
    if len(defaults) > 1:
        reason = "more than one IngressClass is marked default, so the API server refuses to create it"
    elif plane.kind == "none":
        reason = (f"the controller ignores it (--watch-ingress-without-class is false) and logs "
                  f"\"{NO_CLASS_LOG}\" ({plane.reason})")
    else:
        reason = (f"the controller ignores it (--watch-ingress-without-class is false) and logs "
                  f"\"{NO_CLASS_LOG}\"")
    controllers = nginx.find_controllers(ctx.objects)
    controller = controllers[0] if controllers else plane.controller
    class_hint = controller.ingress_class if controller is not None else "nginx"
    yield ctx.finding(
        obj, ("spec",),
        f"Ingress {obj.name} has no spec.ingressClassName and no {ANNOTATION} annotation: {reason}",
        severity="error" if len(defaults) > 1 else None,
        fix=f"Set spec.ingressClassName: {class_hint}.",
        assumption=controller.assumption if controller is not None and controller.workload is None else None)


def _named_class(obj: KubeObject, ctx: Context, class_name: str,
                 plane: dataplane.DataPlane) -> Iterable[Finding]:
    classes = ctx.objects.of_kind("IngressClass")
    field = ("spec", "ingressClassName")
    if classes and not any(c.name == class_name for c in classes) and plane.profile is None \
            and not plane.is_ingress_nginx:
        present = sorted(c.name for c in classes)
        yield ctx.finding(
            obj, field,
            f"ingressClassName \"{class_name}\" names no IngressClass in the inputs "
            f"(present: {', '.join(present)}): no controller serves this Ingress",
            fix=f"Set spec.ingressClassName to one of the IngressClasses present ({', '.join(present)}).")
        return
    if plane.kind != "none":
        return
    if plane.profile is not None:
        yield ctx.finding(
            obj, field,
            f"ingressClassName \"{class_name}\": {plane.reason}, so it ignores this Ingress and "
            "nothing serves it",
            fix=f"Remove spec.ingressClassName and set the annotation {ANNOTATION}: {class_name}.")
        return
    nginx_classes = sorted({c.name for c in classes
                            if any(c.spec.get("controller") == k.controller_class
                                   for k in nginx.find_controllers(ctx.objects))})
    hint = (f"one the controller takes ({', '.join(nginx_classes)})" if nginx_classes else
            "the class of a running controller")
    yield ctx.finding(
        obj, field,
        f"ingressClassName \"{class_name}\" is not served by any ingress-nginx controller in the "
        f"inputs: {plane.reason}; unless a controller outside these inputs takes it, every route "
        "of this Ingress answers 404",
        fix=f"Set spec.ingressClassName to {hint}, or deploy the controller that owns "
            f"\"{class_name}\" (its --controller-class must equal the IngressClass's spec.controller"
            " and its --watch-namespace must include this namespace).")
