"""RG309 ingress-class-annotation-and-field: an Ingress the API server refuses to create
because it names its class twice.

Kubernetes validates an Ingress on create (``ValidateIngressCreate`` in
``pkg/apis/networking/validation/validation.go``, since 1.18 added ``spec.ingressClassName``):
when the deprecated ``kubernetes.io/ingress.class`` annotation is set *and*
``spec.ingressClassName`` is set, the create fails with
``annotations.kubernetes.io/ingress.class: Invalid value: "<class>": can not be set when the
class field is also set``. (An update of an Ingress that already had both is allowed, so only
new Ingresses are refused; the rule speaks of the manifest as it will be created.)

KubeRay's own ``enableIngress`` fell into it: before v0.4.0 its ``BuildIngressForHeadService``
copied every RayCluster annotation, the class annotation included, onto the generated Ingress
*and* set ``spec.ingressClassName`` from it, so on EKS (``kubernetes.io/ingress.class: alb``)
no Ingress was ever created (ray-project/kuberay#441; fixed by #646, commit 3f7b34c, first
released in v0.4.0, which excludes the annotation). The rule judges that generated Ingress by
the KubeRay operator version in the inputs.
"""

from __future__ import annotations

from typing import Iterable

from raygate import kuberay
from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

ANNOTATION = "kubernetes.io/ingress.class"
#: ray-project/kuberay#646 (commit 3f7b34c): the generated Ingress stops copying the annotation.
KUBERAY_EXCLUDES_CLASS_ANNOTATION = (0, 4, 0)
REFUSAL = ('Ingress.networking.k8s.io "<name>" is invalid: annotations.kubernetes.io/ingress.class: '
           'Invalid value: "<class>": can not be set when the class field is also set')


@rule(
    code="RG309",
    name="ingress-class-annotation-and-field",
    layer="infrastructure",
    severity="error",
    kinds=("Ingress", "RayCluster", "RayService", "RayJob"),
    title="Ingress that sets both the kubernetes.io/ingress.class annotation and ingressClassName",
    rationale="""
        The API server refuses to create an Ingress that names its class twice: the deprecated
        `kubernetes.io/ingress.class` annotation and `spec.ingressClassName` together fail
        validation, so the route never exists and every request gets the controller's default
        backend (or no answer at all). KubeRay before v0.4.0 generated exactly such an Ingress
        for `enableIngress: true` when the RayCluster carried the class annotation, which is why
        its built-in Ingress "did not work" on EKS.
    """,
    fix="Keep only spec.ingressClassName (remove the kubernetes.io/ingress.class annotation).",
    references=(
        "https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/networking/validation/validation.go",
        "https://github.com/ray-project/kuberay/issues/441",
        "https://github.com/ray-project/kuberay/pull/646",
    ),
    errors=(REFUSAL,),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if nginx.is_ingress(obj):
        value = obj.annotations.get(ANNOTATION)
        named = obj.spec.get("ingressClassName")
        if value is not None and isinstance(named, str) and named:
            yield ctx.finding(
                obj, ("metadata", "annotations", ANNOTATION),
                f"kubernetes.io/ingress.class \"{value}\" and spec.ingressClassName \"{named}\" "
                "are both set: the API server refuses to create it (\"annotations."
                f"kubernetes.io/ingress.class: Invalid value: \"{value}\": can not be set when "
                "the class field is also set\")")
        return
    if not kuberay.is_ray(obj):
        return
    head = kuberay.cluster_spec(obj).get("headGroupSpec")
    value = obj.annotations.get(ANNOTATION)
    if not isinstance(head, dict) or head.get("enableIngress") is not True or not value:
        return
    version = kuberay.operator_version(ctx.objects)
    if version is not None and version >= KUBERAY_EXCLUDES_CLASS_ANNOTATION:
        return  # v0.4.0 and later leave the annotation out of the generated Ingress
    if version is not None:
        severity, who = "error", f"KubeRay v{'.'.join(map(str, version))} (in the inputs)"
    elif obj.api_version == "ray.io/v1alpha1":
        severity, who = "warning", "a KubeRay operator older than v0.4.0 (v1alpha1 era)"
    else:
        return  # ray.io/v1 needs KubeRay >= 1.0, which excludes the annotation
    yield ctx.finding(
        obj, ("metadata", "annotations", ANNOTATION),
        f"enableIngress with the annotation kubernetes.io/ingress.class \"{value}\": "
        f"{who} copies it onto the generated Ingress and also sets spec.ingressClassName, so "
        "the API server refuses to create the Ingress (\"can not be set when the class field "
        "is also set\") and the Dashboard route never exists",
        severity=severity,
        fix="Upgrade the KubeRay operator (>= v0.4.0 leaves the annotation out), or drop "
            "enableIngress and write the Ingress yourself with spec.ingressClassName only.")
