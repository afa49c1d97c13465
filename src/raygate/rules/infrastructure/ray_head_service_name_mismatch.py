"""RG307 ray-head-service-name-mismatch: a route to a Ray head Service that KubeRay never creates.

KubeRay names a RayCluster's head Service ``status.head.serviceName`` when reported, else
``spec.headGroupSpec.headService.metadata.name``, else ``<raycluster>-head-svc`` (RayService and
RayJob: ``<name>-head-svc``); KubeRay <= 1.3 cut names longer than 50 characters from the front
(facts: kuberay_ray.md §1.1). A RayService's own ``<name>-head-svc`` / ``<name>-serve-svc`` and
its child clusters' Services (``<name>-<5 characters>-head-svc`` since KubeRay v1.4.0,
``<name>-raycluster-<5>-head-svc`` before: ``utils.GenerateRayClusterName``) are KubeRay's too
(model/heads.py), as is a RayJob's cluster. The Helm chart ``ray-cluster`` names the RayCluster
``<release>-kuberay`` (``nameOverride: kuberay``), so release ``ray-cluster`` gives
``ray-cluster-kuberay-head-svc`` but release ``raycluster`` gives ``raycluster-kuberay-head-svc``
(facts: kuberay_ray.md §2). The seed guide's tcp-services map and Ingress both hard-code
``ray-cluster-kuberay-head-svc``: reinstall under another release name and every route points at
nothing. ingress-nginx then logs ``Error getting Service "<ns/svc>": no object matching key
"<ns/svc>" in local store`` for a tcp-services entry and drops it, or ``Error obtaining Service``
for an HTTP backend, which answers 503 (facts: ingress_nginx.md §3.2).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from raygate import kuberay
from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.model import heads as head_model
from raygate.objects import KubeObject, ObjectSet
from raygate.records import record
from raygate.rules import Context, rule

#: Ports (and KubeRay port names) that only a Ray head Service serves.
HEAD_PORT_NUMBERS = frozenset({8265, 10001, 6379, kuberay.DASHBOARD_AGENT_PORT})
HEAD_PORT_NAMES = frozenset({"dashboard", "client", "gcs-server", "gcs"})
LEGACY_MAX = 50  # KubeRay <= 1.3 CheckName()


@rule(
    code="RG307",
    name="ray-head-service-name-mismatch",
    layer="infrastructure",
    severity="error",
    kinds=("Ingress", "ConfigMap"),
    title="Route names a Ray head Service that no RayCluster in the inputs creates",
    rationale="""
        The head Service is created by KubeRay, not written by hand, so its name follows the
        RayCluster: `<raycluster>-head-svc` (or `status.head.serviceName`). With the Helm chart
        the RayCluster itself is `<release>-kuberay`, so the guide's
        `ray-cluster-kuberay-head-svc` only exists for the release name `ray-cluster`.
        An Ingress backend or tcp-services entry that names any other Service is accepted by
        the API and the webhook, then quietly routes nowhere: the Dashboard answers 503 and the
        Ray Client port is never opened because the controller drops the stream entry. This
        rule compares the names with the RayClusters, RayServices and RayJobs in the inputs
        and names the Service KubeRay really creates.
    """,
    fix="Point the route at the head Service KubeRay creates for the RayCluster: <raycluster>-head-svc, or status.head.serviceName.",
    references=(
        "https://docs.ray.io/en/latest/cluster/kubernetes/user-guides/config.html",
        "https://github.com/ray-project/kuberay/tree/master/helm-chart/ray-cluster",
        "https://kubernetes.github.io/ingress-nginx/user-guide/exposing-tcp-udp-services/",
    ),
    errors=(
        'Error getting Service "<ns/svc>": no object matching key "<ns/svc>" in local store',
        'Error obtaining Service "<ns/svc>"',
        'Service "<ns/svc>" does not have any active Endpoint',
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    heads = _heads(ctx.objects)
    if not heads:
        return
    if obj.kind == "Ingress":
        if nginx.is_ingress(obj):
            yield from _check_ingress(obj, ctx, heads)
    elif id(obj) in _tcp_maps(ctx.objects):
        yield from _check_tcp_map(obj, ctx, heads)


@record(frozen=True)
class Head:
    """A Ray CR and the name of the head Service KubeRay gives it."""

    ray: KubeObject
    service: str  # the name KubeRay gives the head Service


def _heads(objects: ObjectSet) -> Mapping[str, tuple[Head, ...]]:
    """namespace -> the head Services the Ray CRs there create (memoised per set)."""
    def compute() -> Mapping[str, tuple[Head, ...]]:
        by_ns: dict[str, list[Head]] = {}
        for ray in kuberay.ray_clusters(objects):
            by_ns.setdefault(ray.namespace, []).append(Head(ray, kuberay.head_service_name(ray)))
        return {ns: tuple(h) for ns, h in by_ns.items()}

    return objects.memo("infrastructure-ray-heads", compute)


def _tcp_maps(objects: ObjectSet) -> frozenset[int]:
    return objects.memo("infrastructure-tcp-maps",
                        lambda: frozenset(id(cm) for cm in nginx.tcp_services_configmaps(objects)))


def _legacy(name: str) -> str:
    """The name KubeRay <= 1.3 would have used (CheckName: keep the last 50 characters, and a
    leading non-letter becomes ``r``)."""
    if len(name) > LEGACY_MAX:
        name = name[-LEGACY_MAX:]
    if name and not name[0].isalpha():
        name = "r" + name[1:]
    return name


def _is_known(objects: ObjectSet, heads: Mapping[str, tuple[Head, ...]], namespace: str,
              service: str) -> bool:
    """A name KubeRay creates: a head Service (also as KubeRay <= 1.3 cut it), or one of the
    other Services model/heads.py knows KubeRay makes for a CR in the inputs (a RayService's
    ``-serve-svc``, its child clusters' ``<rayservice>-<hash>-head-svc``, a RayJob's cluster)."""
    if any(service in (h.service, _legacy(h.service)) for h in heads.get(namespace, ())):
        return True
    return head_model.is_known_kuberay_service(objects, namespace, service)


def _looks_like_head(objects: ObjectSet, heads: Mapping[str, tuple[Head, ...]], namespace: str,
                     service: str, port: str | None) -> bool:
    if objects.get("Service", namespace, service) is not None:
        return False  # a real Service in the inputs (maybe hand-written and selecting the head)
    if kuberay.looks_like_head_service_name(service) or _elsewhere(heads, namespace, service):
        return True
    if namespace not in heads or service.endswith("-serve-svc"):
        return False
    if port is None:
        return False
    return (port.isdigit() and int(port) in HEAD_PORT_NUMBERS) or port in HEAD_PORT_NAMES


def _best(heads: Mapping[str, tuple[Head, ...]], namespace: str, service: str) -> Head | None:
    """The head Service the author most likely meant: in the same namespace, closest name."""
    local = heads.get(namespace, ())
    if len(local) == 1:
        return local[0]
    if not local:
        return None
    import difflib  # only when a name is near-missed

    return max(local, key=lambda h: (_helm_match(service, h), difflib.SequenceMatcher(
        None, service, h.service).ratio()))


def _helm_match(service: str, head: Head) -> bool:
    """``<release>-head-svc`` written for a chart-installed RayCluster ``<release>-kuberay``."""
    return head.ray.name.endswith("-kuberay") and service == head.ray.name[:-len("-kuberay")] + "-head-svc"


def _elsewhere(heads: Mapping[str, tuple[Head, ...]], namespace: str, service: str) -> Head | None:
    for ns, items in sorted(heads.items()):
        if ns != namespace:
            for h in items:
                if service in (h.service, _legacy(h.service)):
                    return h
    return None


def _explain(service: str, head: Head) -> str:
    ray = head.ray
    text = (f"KubeRay names the head Service of {ray.kind} {ray.namespace}/{ray.name} "
            f"\"{head.service}\"")
    if ray.name.endswith("-kuberay") or "-kuberay-" in service:
        text += (" (the ray-cluster Helm chart names the RayCluster <release>-kuberay, so the "
                 "head Service name follows the Helm release name)")
    return text


def _check_ingress(obj: KubeObject, ctx: Context,
                   heads: Mapping[str, tuple[Head, ...]]) -> Iterable[Finding]:
    for field, name_field, service, port in _ingress_backends(obj):
        if _is_known(ctx.objects, heads, obj.namespace, service) or \
                not _looks_like_head(ctx.objects, heads, obj.namespace, service, port):
            continue
        ref = f"{obj.namespace}/{service}"
        symptom = (f"the controller logs Error obtaining Service \"{ref}\" and the path "
                   "answers 503")
        head = _best(heads, obj.namespace, service)
        other = _elsewhere(heads, obj.namespace, service)
        if head is not None and other is None:
            yield ctx.finding(
                obj, field + name_field,
                f"backend Service \"{ref}\" matches no Ray head in the inputs: "
                f"{_explain(service, head)}; {symptom}",
                fix=f"Set the backend service name to {head.service} (the head Service of "
                    f"{head.ray.kind} {head.ray.namespace}/{head.ray.name}).")
            continue
        if other is not None:
            yield ctx.finding(
                obj, field + name_field,
                f"backend Service \"{ref}\" does not exist there: the head Service "
                f"\"{other.service}\" of {other.ray.kind} {other.ray.namespace}/{other.ray.name} "
                f"lives in namespace {other.ray.namespace}, and an Ingress can only route to "
                f"Services in its own namespace; {symptom}",
                fix=f"Create this Ingress in namespace {other.ray.namespace}, next to the RayCluster.")


def _ingress_backends(obj: KubeObject) -> Iterable[tuple[tuple[Any, ...], tuple[str, ...], str, str | None]]:
    """(backend field, name sub-field, service name, port) for every path and the default."""
    entries: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = [
        (path + ("backend",), entry.get("backend")) for path, entry, _ in nginx.ingress_paths(obj)]
    for key in ("defaultBackend", "backend"):
        if isinstance(obj.spec.get(key), dict):
            entries.append((("spec", key), obj.spec[key]))
    for field, backend in entries:
        if not isinstance(backend, dict):
            continue
        service, port = nginx.backend_service({"backend": backend})
        if not isinstance(service, str) or not service:
            continue
        name_field = ("service", "name") if isinstance(backend.get("service"), dict) else ("serviceName",)
        yield field, name_field, service, port


def _check_tcp_map(obj: KubeObject, ctx: Context,
                   heads: Mapping[str, tuple[Head, ...]]) -> Iterable[Finding]:
    for entry in nginx.tcp_entries(obj):
        if entry.error or not entry.namespace or not entry.service:
            continue
        ns, service = entry.namespace, entry.service
        if _is_known(ctx.objects, heads, ns, service) or \
                not _looks_like_head(ctx.objects, heads, ns, service, entry.port):
            continue
        head = _elsewhere(heads, ns, service) or _best(heads, ns, service)
        if head is None:
            continue
        ref = f"{ns}/{service}"
        log = (f"the controller logs Error getting Service \"{ref}\": no object matching key "
               f"\"{ref}\" in local store, drops the entry and never listens on port "
               f"{entry.external_port}")
        right = f"{head.ray.namespace}/{head.service}"
        value = entry.value.replace(ref, right, 1)
        if head.ray.namespace == ns:
            message = f"tcp-services port {entry.key} -> \"{ref}\" matches no Ray head in the inputs: {_explain(service, head)}; {log}"
        else:
            message = (f"tcp-services port {entry.key} -> \"{ref}\": that head Service belongs to "
                       f"{head.ray.kind} {head.ray.namespace}/{head.ray.name} in namespace "
                       f"{head.ray.namespace}, not {ns}; {log}")
        yield ctx.finding(obj, entry.field, message,
                          fix=f"Change the entry to \"{entry.key}\": \"{value}\".")
