"""RG226 ingress-backend-port-missing: an Ingress backend port that its Service does not have.

The API server accepts any port number or name in an Ingress backend; nothing checks it against
the Service. ingress-nginx (``internal/ingress/controller/controller.go: serviceEndpoints`` at
tag controller-v1.15.1) walks the Service's ports and takes the first whose ``port``,
``targetPort`` or ``name`` equals the backend port as written; when none does it returns no
endpoints *and logs nothing*. The upstream is then empty, the Lua balancer has no balancer for it
(``rootfs/etc/nginx/lua/balancer.lua``: ``ngx.HTTP_SERVICE_UNAVAILABLE``), and every request
gets ``503 Service Temporarily Unavailable``. With ``service-upstream: "true"`` a missing *named*
port is logged instead: ``Failed to determine a suitable ClusterIP Endpoint for Service
"<ns>/<svc>": service "<svc>" does not have a port named "<name>"``. Other controllers resolve
the backend by the Service's ``port`` or ``name`` only (the Ingress API's meaning) and fail to
build the backend.

The typical Ray case: KubeRay's head Service has exactly the head container's ports (facts:
kuberay_ray.md §1.2), so a Serve route to ``<cluster>-head-svc:8000`` on a RayCluster whose head
lists only gcs-server/dashboard/client goes nowhere. When the Service is not in the inputs but
the Ray CR that creates it is, the ports come from the CR.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from raygate import kuberay
from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import dataplane, protections
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule

SERVICE_UPSTREAM_LOG = ('Failed to determine a suitable ClusterIP Endpoint for Service '
                        '"{ns}/{svc}": service "{svc}" does not have a port named "{port}"')


@rule(
    code="RG226",
    name="ingress-backend-port-missing",
    layer="protocol",
    severity="error",
    kinds=("Ingress",),
    title="Ingress backend names a port its Service does not have",
    rationale="""
        An Ingress backend names a Service port by number or name, and nothing validates it:
        the API server, the admission webhook and `kubectl apply` all accept a port the Service
        does not have. ingress-nginx then finds no endpoints for the backend, logs nothing
        about it, and answers every request with `503 Service Temporarily Unavailable`. With
        KubeRay this happens when a route targets a port the head container does not list:
        the head Service carries exactly the head container's ports, so a Serve route to port
        8000 on a cluster whose head lists only GCS, Dashboard and Client never works.
    """,
    fix="Point the backend at a port the Service has (by its name or its port number).",
    references=(
        "https://github.com/kubernetes/ingress-nginx/blob/controller-v1.15.1/internal/ingress/controller/controller.go",
        "https://docs.ray.io/en/latest/cluster/kubernetes/user-guides/config.html",
    ),
    errors=(
        "503 Service Temporarily Unavailable",
        'Failed to determine a suitable ClusterIP Endpoint for Service "<ns/svc>": service '
        '"<svc>" does not have a port named "<name>"',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not nginx.is_ingress(obj):
        return
    plane = dataplane.for_ingress(ctx.objects, obj)
    if plane.kind == "none":
        return  # nothing serves it; RG306's business
    entries = list(nginx.ingress_paths(obj))
    default = obj.spec.get("defaultBackend") or obj.spec.get("backend")
    if isinstance(default, dict):
        entries.append((("spec", "defaultBackend"), {"backend": default}, None))
    for field, entry, _host in entries:
        name, port = nginx.backend_service(entry)
        if not isinstance(name, str) or port is None:
            continue
        known = _ports(ctx.objects, obj.namespace, name)
        if known is None:
            continue
        ports, where = known
        if any(_matches(p, port, plane.is_ingress_nginx) for p in ports):
            continue
        have = ", ".join(_describe(p) for p in ports) or "no ports"
        what = f'port {"named " if not port.isdigit() else ""}{port!s}'
        if plane.is_ingress_nginx:
            if _service_upstream(obj, plane) and not port.isdigit():
                effect = ("the controller logs " + SERVICE_UPSTREAM_LOG.format(
                    ns=obj.namespace, svc=name, port=port) + " and nginx answers 503")
            elif _service_upstream(obj, plane):
                effect = ("with service-upstream nginx connects to the Service's ClusterIP on "
                          f"port {port}, which the Service does not forward: the connection "
                          "fails and nginx answers 502 or 504")
            else:
                effect = ("ingress-nginx finds no Service port whose port, targetPort or name is "
                          f"{port}, builds the upstream without endpoints (and logs nothing), so "
                          "every request gets 503 Service Temporarily Unavailable")
        else:
            effect = f"{plane.title} cannot build a backend for it, so the route never works"
        yield ctx.finding(
            obj, field + ("backend",),
            f"the backend {obj.namespace}/{name} {what} does not exist: {where} has {have}; "
            f"{effect}",
            fix=(f"Use one of the ports {where} has ({have}), or add {what} to it."),
            symptom=("503 Service Temporarily Unavailable" if plane.is_ingress_nginx
                     and not _service_upstream(obj, plane) else None))


def _ports(objects: ObjectSet, namespace: str,
           name: str) -> tuple[list[Mapping[str, Any]], str] | None:
    """The Service's ports and a description of where they come from, or None if unknown."""
    svc = objects.get("Service", namespace, name)
    if svc is not None:
        if svc.spec.get("type") == "ExternalName":
            return None  # ports are not resolved against an ExternalName Service
        ports = svc.spec.get("ports")
        return ([p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else [],
                f"Service {namespace}/{name}")
    ray = kuberay.owner_of_service(objects, namespace, name)
    if ray is None:
        return None
    ports = [{"name": n, "port": v, "targetPort": v} for n, v in kuberay.head_ports(ray).items()]
    if name.endswith("-serve-svc"):
        # KubeRay's Serve Service carries the head container's ports named serve or serve-*
        # (facts: kuberay_ray.md §1.5); a custom spec.serveService may differ: not judged.
        if ray.kind == "RayService" and ray.spec.get("serveService") is not None:
            return None
        serve = [p for p in ports if p["name"] == "serve" or str(p["name"]).startswith("serve-")]
        return (serve, f"the Serve Service KubeRay creates for {ray.kind} {namespace}/{ray.name}") \
            if serve else None
    head = kuberay.cluster_spec(ray).get("headGroupSpec")
    custom = head.get("headService") if isinstance(head, dict) else None
    spec = custom.get("spec") if isinstance(custom, dict) else None
    extra = spec.get("ports") if isinstance(spec, dict) else None
    # KubeRay appends its ports to a custom headService's own ports (facts §1.3).
    ports.extend(p for p in (extra if isinstance(extra, list) else []) if isinstance(p, dict))
    return ports, f"the head Service KubeRay creates for {ray.kind} {namespace}/{ray.name}"


def _matches(p: Mapping[str, Any], wanted: str, lenient: bool) -> bool:
    if str(p.get("port")) == wanted or p.get("name") == wanted:
        return True
    # ingress-nginx also accepts the targetPort (as a number or a name).
    target = p.get("targetPort", p.get("port"))
    return lenient and target is not None and str(target) == wanted


def _describe(p: Mapping[str, Any]) -> str:
    name = p.get("name")
    return f"{name} {p.get('port')}" if name else str(p.get("port"))


def _service_upstream(ing: KubeObject, plane: dataplane.DataPlane) -> bool:
    prefix = protections.nginx_prefix(plane.controller) if plane.controller else nginx.PREFIX
    return str(ing.annotations.get(prefix + "service-upstream", "")).strip().lower() == "true"
