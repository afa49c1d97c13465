"""RG105 gcs-port-exposed: the Ray GCS port (6379 / ``gcs-server``) reachable from outside.

GCS is the cluster's control plane. Exposing it gives no usable remote-driver path, because an
external driver also needs to reach every raylet, object manager and worker port, so it only
adds attack surface (facts: kuberay_ray.md §6 "GCS 6379 note", §7 dangerous ports, §10 item 5:
"Never expose 6379, 52365, 8080 publicly"). The dashboard agent (52365, job-agent endpoints)
and the metrics port (8080, an information leak) get a warning for the same reason. Exposures
come from ``raygate.model.exposure`` (tcp-services entries, Ingress backends, LoadBalancer/NodePort
Services, Gateway API routes: GCS is a gRPC server, so a GRPCRoute reaches it like a TCPRoute)
and from the Ray CR's own
``headGroupSpec.headService``/``serviceType``. A head recognised only by port numbers
(model/heads.py, ``possible``) gets a warning that says so: 6379 on its own may be another
program. A GCS entry in a tcp-services ConfigMap that no controller in the inputs reads is a
warning: it opens nothing today, and RG204's fix (point the controller at the map) would open it.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.security import _ray_reach as reach

_WHAT = {"gcs-server": "the Ray GCS (gcs-server, the cluster's control plane)",
         "dashboard-agent": "the Ray dashboard agent (52365, job-agent endpoints)",
         "metrics": "the Ray metrics endpoint (8080, cluster internals)"}
_WHY = {"gcs-server": "outside drivers cannot use it (they also need every raylet and worker "
                      "port), so it only adds attack surface",
        "dashboard-agent": "nothing outside needs it (KubeRay's probes run inside the pod)",
        "metrics": "Prometheus should scrape it from inside the cluster"}


@rule(
    code="RG105",
    name="gcs-port-exposed",
    layer="security",
    severity="error",
    kinds=reach.EXPOSING_KINDS + ("RayCluster", "RayService", "RayJob"),
    title="Ray GCS port exposed outside the cluster",
    rationale="""
        The Global Control Service (GCS, port 6379, named `gcs-server` on the KubeRay head
        Service) is the Ray cluster's control plane: it holds cluster metadata, the function
        table and job state. Exposing it through a tcp-services entry, an Ingress, a Gateway API
        route or a LoadBalancer/NodePort Service does not give outside drivers a working path
        (`ray.init("host:6379")` also needs direct access to every raylet, object manager and
        worker port), so the only effect is attack surface, and without token auth a remote
        attacker can drive the cluster. External access belongs on the Jobs API (8265) or Ray
        Client (10001), behind authentication. The dashboard agent (52365) and metrics (8080)
        ports should not leave the cluster either (warning): the agent serves job endpoints and
        metrics reveal cluster internals.
    """,
    fix=("Remove the external route to port 6379 (tcp-services entry, TCPRoute, Service port or "
         "serviceType) and use the Jobs API or Ray Client, behind authentication, from outside."),
    references=(
        "https://docs.ray.io/en/latest/ray-security/index.html",
        "https://docs.ray.io/en/latest/ray-core/configure.html#ray-ports",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for e in reach.exposures_of(ctx.objects, obj):
        role = reach.port_role(e, reach.ray_behind(ctx.objects, e))
        if role not in reach.INTERNAL_ONLY or not reach.carries(e, role):
            continue  # a GRPCRoute to the HTTP metrics/agent port gets no call through (RG268)
        note, possible = "", False
        if e.head is not None and not e.head.certain:
            note = f" of {e.head.head.label}{e.head.note()}"
            possible = e.head.confidence == "possible"
        yield ctx.finding(
            obj, e.field,
            f"{reach.how(e)} exposes {_WHAT[role]}{note} outside the cluster; {_WHY[role]}",
            severity="error" if role == "gcs-server" and not possible else "warning",
            fix=None if role == "gcs-server" else
            f"Remove the external route to the {role} port; scrape or probe it from inside the "
            "cluster.", port=role)
    for e in reach.dormant_of(ctx.objects, obj):
        role = reach.port_role(e, reach.ray_behind(ctx.objects, e))
        if role != "gcs-server":
            continue
        yield ctx.finding(
            obj, e.field,
            f"{reach.how(e)} maps {_WHAT[role]}; no controller in the inputs reads this "
            "ConfigMap yet (RG204), so it exposes nothing today, but pointing a controller's "
            "--tcp-services-configmap at it (RG204's fix) opens the GCS port outside the cluster",
            severity="warning",
            fix=(f"Remove the entry for port {e.external_port} before a controller reads this "
                 "ConfigMap; map only the Ray Client port (10001) there."),
            port=role, dormant=True)
    for cr in reach.cr_exposures(ctx.objects, obj):
        internal = [r for r in reach.INTERNAL_ONLY if r in cr.roles]
        if not internal:
            continue
        ports = ", ".join(f"{r} {cr.roles[r]}" for r in internal)
        yield ctx.finding(
            obj, cr.field,
            f"KubeRay publishes {cr.description} with {ports} outside the cluster: every port of "
            "the head Service goes out, including the ones that must stay internal",
            severity="error" if "gcs-server" in internal else "warning",
            fix=("Drop serviceType (keep the head Service ClusterIP) and expose only the "
                 "Dashboard and Ray Client through the gateway."), ports=internal)
