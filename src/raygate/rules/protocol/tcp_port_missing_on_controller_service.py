"""RG206 tcp-port-missing-on-controller-service: the controller listens, its Service does not.

A tcp-services entry makes nginx listen on the external port inside the controller pod. Without
``hostNetwork`` that port is reachable from outside only through the controller's
LoadBalancer/NodePort Service, which must carry a port targeting it. The Helm chart adds those
ports itself, but with the static manifests "those ports need to be exposed in the Service
defined for the Ingress" by hand (facts: ingress_nginx.md §3.4). With ``hostNetwork`` (the seed
guide's Pinned Gateway) nginx binds the node's port directly, so the Service does not matter;
the same holds for a container ``hostPort``.

Decision: the finding goes on the tcp-services entry (``data["<port>"]``), the place that states
the intent and the only one that knows which port is missing; the message and the fix name the
Service to change. Without a controller Service in the inputs raygate stays silent, and entries
the controller drops anyway (RG201, RG202) are left to those rules.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from raygate.backends import ingress_nginx as nginx
from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet, matches_selector
from raygate.rules import Context, rule
from raygate.rules.protocol import _tcp

DOC_QUOTE = ('"If TCP/UDP proxy support is used, then those ports need to be exposed in the '
             'Service defined for the Ingress."')
OUTSIDE_TYPES = ("LoadBalancer", "NodePort")


@rule(
    code="RG206",
    name="tcp-port-missing-on-controller-service",
    layer="protocol",
    severity="error",
    kinds=("ConfigMap",),
    title="Mapped TCP port is missing from the ingress-nginx controller Service",
    rationale="""
        A tcp-services entry opens a listener inside the controller pod. Unless the controller
        runs with `hostNetwork` (or a `hostPort`), clients reach that listener only through the
        controller's LoadBalancer or NodePort Service, so the Service needs a port targeting
        the mapped port. The Helm chart adds it automatically for its `tcp:` values; the static
        install manifests do not, and the ingress-nginx docs say the ports "need to be exposed
        in the Service defined for the Ingress". Without it the entry is valid, nginx listens,
        and every connection from outside still times out or is refused at the load balancer.
    """,
    fix="Add a TCP port for the mapped external port to the controller's LoadBalancer/NodePort Service.",
    references=(_tcp.TCP_DOC, "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/"),
    errors=(),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    if not _tcp.is_tcp_map(ctx.objects, obj):
        return
    data = obj.get("data")
    if not isinstance(data, dict):
        return
    live = {e.key for e in _tcp.entries(ctx.objects, obj) if not _tcp.known_dead(ctx.objects, e)}
    for controller in _tcp.readers(ctx.objects, obj):
        if controller.host_network:
            continue  # nginx binds the node's ports directly
        container = _container(controller)
        for svc in _controller_services(ctx.objects, controller):
            for key in data:
                key_s = str(key)
                if key_s not in live or not 1 <= int(key_s) <= 65535:
                    continue  # RG201/RG202: the controller drops the entry, nothing listens
                port = int(key_s)
                if port in controller.reserved_ports or _host_port(container, port):
                    continue  # RG203 / reachable on the node through hostPort
                missing = _missing(svc, container, port)
                if missing is None:
                    continue
                problem, index = missing
                ref = f"{svc.namespace}/{svc.name}"
                fix = (f"Add {{name: {port}-tcp, port: {port}, targetPort: {port}, protocol: TCP}} "
                       f"to spec.ports of Service {ref}.") if index is None else (
                    f"Set spec.ports[{index}].targetPort of Service {ref} to {port}.")
                yield ctx.finding(
                    obj, ("data", key_s),
                    f"Service {ref} ({svc.spec.get('type')}) fronts {_tcp.workload_ref(controller)}, "
                    f"which has no hostNetwork, but {problem}: nginx listens on {port} inside the "
                    f"pod and nothing outside reaches it. The ingress-nginx docs: {DOC_QUOTE}",
                    fix=fix)


def _container(controller: nginx.Controller) -> Mapping[str, Any]:
    containers = controller.pod_spec.get("containers")
    if isinstance(containers, list) and len(containers) > controller.container_index:
        c = containers[controller.container_index]
        if isinstance(c, dict):
            return c
    return {}


def _container_ports(container: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = container.get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def _host_port(container: Mapping[str, Any], port: int) -> bool:
    return any(_tcp.as_int(p.get("containerPort")) == port and _tcp.as_int(p.get("hostPort"))
               for p in _container_ports(container))


def _controller_services(objects: ObjectSet, controller: nginx.Controller) -> list[KubeObject]:
    """LoadBalancer/NodePort Services that select the controller's pods (or --publish-service)."""
    cache = objects.memo("rg206-controller-services", dict)
    key = id(controller.workload)
    if key not in cache:
        workload = controller.workload
        labels = workload.get("spec", "template", "metadata", "labels") if workload else None
        labels = labels if isinstance(labels, dict) else {}
        publish = controller.flags.get("--publish-service", "")
        found = []
        for svc in objects.of_kind("Service"):
            if svc.spec.get("type") not in OUTSIDE_TYPES or workload is None:
                continue
            selector = svc.spec.get("selector")
            selects = (svc.namespace == workload.namespace and isinstance(selector, dict)
                       and matches_selector(labels, selector))
            if selects or publish == f"{svc.namespace}/{svc.name}":
                found.append(svc)
        cache[key] = found
    return cache[key]


def _missing(svc: KubeObject, container: Mapping[str, Any], port: int) -> tuple[str, int | None] | None:
    """Why ``svc`` does not carry traffic to the controller's listener on ``port`` (and the
    index of a same-numbered port with the wrong targetPort), or None when it does."""
    raw = svc.spec.get("ports")
    ports = [p for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []
    same_number: int | None = None
    for i, p in enumerate(ports):
        if _tcp.port_protocol(p) != "TCP":
            continue
        if _targets(p, container) == port:
            return None
        if _tcp.as_int(p.get("port")) == port:
            same_number = i
    if same_number is not None:
        target = ports[same_number].get("targetPort")
        return (f"its port {port} targets {target!r}, which is not the controller's listener on "
                f"{port}"), raw.index(ports[same_number]) if isinstance(raw, list) else None
    return f"it has no port targeting {port} (it has {_tcp.describe_ports(ports)})", None


def _targets(p: Mapping[str, Any], container: Mapping[str, Any]) -> int | None:
    """The container port a Service port sends traffic to (named targetPorts resolved)."""
    target = p.get("targetPort", p.get("port"))
    number = _tcp.as_int(target)
    if number is not None:
        return number
    if isinstance(target, str):
        for cp in _container_ports(container):
            if cp.get("name") == target:
                return _tcp.as_int(cp.get("containerPort"))
    return None
