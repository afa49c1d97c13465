"""RG220 dashboard-bound-to-localhost: a route to the Dashboard of a head that listens on 127.0.0.1.

``ray start --head`` binds the Dashboard to ``--dashboard-host``, whose default is 127.0.0.1
(Ray CLI reference, ``ray start``; ``ray.init`` prints "View the dashboard at
http://127.0.0.1:8265" and suggests ``dashboard_host="0.0.0.0"`` for remote access;
ray-project/ray#35271 asks the docs to say to pass ``--dashboard-host 0.0.0.0``). KubeRay forces
``dashboard-host=0.0.0.0`` on its heads (facts: kuberay_ray.md §1.2), which is why its clusters
never hit this; a Deployment, StatefulSet or Pod that runs ``ray start --head`` itself does
(model/heads.py reads the command). Traffic from a Service reaches the pod's IP, where nothing
listens on the Dashboard port: connections are refused, ingress-nginx answers 502 and logs
``connect() failed (111: Connection refused) while connecting to upstream``.
"""

from __future__ import annotations

from typing import Iterable

from raygate.backends.gateway_api import api as gateway_api
from raygate.findings import Finding
from raygate.model import exposure as exp
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule

REFUSED = "connect() failed (111: Connection refused) while connecting to upstream"
LOOPBACK = ("localhost", "::1", "[::1]")


@rule(
    code="RG220",
    name="dashboard-bound-to-localhost",
    layer="protocol",
    severity="error",
    kinds=("Ingress", "ConfigMap", "Service") + gateway_api.EXPOSING_ROUTE_KINDS,
    title="Route to the Dashboard of a head started without --dashboard-host 0.0.0.0",
    rationale="""
        `ray start --head` serves the Dashboard (and the Jobs API) on 127.0.0.1 unless it is
        given `--dashboard-host 0.0.0.0`. KubeRay adds that flag to every head it starts, but a
        Deployment, StatefulSet or Pod that runs `ray start --head` itself does not get it. A
        Service sends traffic to the pod's IP address, where nothing listens on the Dashboard
        port, so every request through the Ingress, Gateway route or LoadBalancer is refused:
        ingress-nginx answers 502 Bad Gateway and logs `connect() failed (111: Connection
        refused) while connecting to upstream`, and `ray job submit` fails to connect.
        `kubectl port-forward` to the pod still works (it connects from inside the pod's
        network namespace), which makes the cause hard to see.
    """,
    fix=("Add --dashboard-host=0.0.0.0 to the head's `ray start --head` command (and keep "
         "authentication in front of the Dashboard)."),
    references=(
        "https://docs.ray.io/en/latest/cluster/cli.html#ray-start",
        "https://docs.ray.io/en/latest/cluster/configure-manage-dashboard.html",
        "https://github.com/ray-project/ray/issues/35271",
    ),
    errors=(REFUSED,),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    seen: set[int] = set()
    for e in _local_dashboards(ctx.objects).get(id(obj), ()):
        head = e.head.head  # type: ignore[union-attr]
        if id(head) in seen:
            continue
        seen.add(id(head))
        yield ctx.finding(
            obj, e.field,
            f"{_how(e)} reaches the Dashboard port {head.ports.get('dashboard')} of "
            f"{head.label}, whose `ray start --head` binds the Dashboard to "
            f"{head.dashboard_host} (no --dashboard-host 0.0.0.0): the pod refuses connections "
            f"on its own IP, so requests fail (ingress-nginx: 502, \"{REFUSED}\")"
            f"{e.head.note()}",  # type: ignore[union-attr]
            fix=f"Add --dashboard-host=0.0.0.0 to the `ray start --head` command of {head.label}.",
            head=head.label)


def is_loopback(host: str) -> bool:
    host = host.strip().strip("'\"")
    return host in LOOPBACK or host.startswith("127.")


def _local_dashboards(objects: ObjectSet) -> dict[int, list[exp.Exposure]]:
    def compute() -> dict[int, list[exp.Exposure]]:
        found: dict[int, list[exp.Exposure]] = {}
        for e in exp.ray_exposures(objects):
            head = e.head.head if e.head is not None else None
            if head is None or head.dashboard_host is None or e.ray_port != "dashboard" \
                    or not exp.carries_requests(e, "dashboard"):
                continue  # (a GRPCRoute to the Dashboard is broken anyway: RG268)
            if is_loopback(head.dashboard_host):
                found.setdefault(id(e.via), []).append(e)
        return found
    return objects.memo("rg220-local-dashboards", compute)


def _how(e: exp.Exposure) -> str:
    if e.channel == "service":
        return f"Service type {e.via.spec.get('type') or 'ClusterIP'} port {e.port}"
    if e.channel == "tcp":
        return f"{e.via.kind} {e.via.name} port {e.external_port} -> {e.target}"
    return f"{e.via.kind} path {e.host or '*'}{e.path or '/'} -> {e.service}:{e.port}"
