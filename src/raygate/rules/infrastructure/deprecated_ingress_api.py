"""RG308 deprecated-ingress-api: Ingress manifests written for APIs Kubernetes removed.

``extensions/v1beta1`` and ``networking.k8s.io/v1beta1`` Ingress (and the v1beta1 IngressClass)
were removed in Kubernetes 1.22, so ``kubectl apply`` fails with ``no matches for kind "Ingress"
in version "<apiVersion>"``; ingress-nginx >= 1.0 also only reads ``networking.k8s.io/v1``. Old
tutorials for Ray still carry these shapes, including the v1beta1 backend fields
``serviceName``/``servicePort`` and ``spec.backend``, which a v1 Ingress does not have: strict
field validation rejects them, and schema validation reports ``Additional properties are not
allowed ('serviceName', 'servicePort' were unexpected)`` (facts: feasibility.md, the
kubernetes-validate check; gateway_api_metallb.md §9.4 for the v1 shapes).
"""

from __future__ import annotations

from typing import Any, Iterable

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

REMOVED = {
    ("Ingress", "extensions/v1beta1"), ("Ingress", "networking.k8s.io/v1beta1"),
    ("IngressClass", "networking.k8s.io/v1beta1"),
}
V1 = "networking.k8s.io/v1"


@rule(
    code="RG308",
    name="deprecated-ingress-api",
    layer="infrastructure",
    severity="error",
    kinds=("Ingress", "IngressClass"),
    title="Ingress or IngressClass written for an API removed in Kubernetes 1.22",
    rationale="""
        Kubernetes 1.22 stopped serving `extensions/v1beta1` and `networking.k8s.io/v1beta1`
        Ingress and the v1beta1 IngressClass; only `networking.k8s.io/v1` exists now, and
        ingress-nginx 1.x reads nothing else. Such manifests fail to apply with
        `no matches for kind "Ingress" in version ...`. Converting only the `apiVersion` is not
        enough: v1 renamed `spec.backend` to `spec.defaultBackend`, replaced
        `serviceName`/`servicePort` with `service.name` and `service.port.number|name`, and
        made `pathType` required, so half-converted manifests are rejected as unknown fields.
    """,
    fix=("Use apiVersion networking.k8s.io/v1: backend.service.name and "
         "backend.service.port.number (or .name) instead of serviceName/servicePort, "
         "spec.defaultBackend instead of spec.backend, and a pathType on every path."),
    references=(
        "https://kubernetes.io/docs/reference/using-api/deprecation-guide/#ingress-v122",
        "https://kubernetes.github.io/ingress-nginx/user-guide/k8s-122-migration/",
        "https://kubernetes.io/docs/concepts/services-networking/ingress/",
    ),
    errors=(
        'no matches for kind "Ingress" in version "<version>"',
        'no matches for kind "IngressClass" in version "<version>"',
        "Additional properties are not allowed ('serviceName', 'servicePort' were unexpected)",
        'strict decoding error: unknown field "spec.rules[<i>].http.paths[<j>].backend.serviceName"',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if (obj.kind, obj.api_version) in REMOVED:
        yield ctx.finding(
            obj, ("apiVersion",),
            f"{obj.kind} {obj.api_version} was removed in Kubernetes 1.22: kubectl apply fails "
            f"with no matches for kind \"{obj.kind}\" in version \"{obj.api_version}\"")
        return
    if obj.kind != "Ingress" or obj.api_version != V1:
        return
    # A v1 Ingress still using v1beta1 field names.
    if "backend" in obj.spec:
        yield ctx.finding(
            obj, ("spec", "backend"),
            "spec.backend is the v1beta1 name; networking.k8s.io/v1 calls it spec.defaultBackend "
            "and rejects the old field (Additional properties are not allowed ('backend' was "
            "unexpected))",
            fix="Rename spec.backend to spec.defaultBackend and use service.name/service.port inside it.")
    for path, entry, _host in nginx.ingress_paths(obj):
        backend = entry.get("backend")
        if not isinstance(backend, dict):
            continue
        old = [k for k in ("serviceName", "servicePort") if k in backend]
        if not old:
            continue
        service, port = nginx.backend_service(entry)
        yield ctx.finding(
            obj, path + ("backend", old[0]),
            f"{' and '.join(old)} are v1beta1 backend fields: a networking.k8s.io/v1 Ingress "
            f"rejects them (Additional properties are not allowed "
            f"({', '.join(repr(k) for k in old)} {'were' if len(old) > 1 else 'was'} unexpected))",
            fix=_backend_fix(service, port))


def _backend_fix(service: Any, port: Any) -> str:
    name = service if isinstance(service, str) and service else "<service>"
    if isinstance(port, str) and port.isdigit():
        return f"Replace them with backend: {{service: {{name: {name}, port: {{number: {port}}}}}}}."
    if isinstance(port, str) and port:
        return f"Replace them with backend: {{service: {{name: {name}, port: {{name: {port}}}}}}}."
    return f"Replace them with backend: {{service: {{name: {name}, port: {{number: <port>}}}}}}."
