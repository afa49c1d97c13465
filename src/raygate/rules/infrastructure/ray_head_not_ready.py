"""RG354 ray-head-not-ready: the Ray head behind a route is not ready, not there, or not as asked.

Every route ends at the head pod. After a reschedule the head may be Pending, crash-looping
or still starting (KubeRay's head Service publishes not-ready addresses, so nginx may even
route to a head that cannot answer; facts: kuberay_ray.md §1.3). Doctor also checks the head
Service the operator reports in ``status.head.serviceName`` exists, and that a head asked to
use token auth was actually started with it (the pod predates the change otherwise).
"""

from __future__ import annotations

from typing import Iterable

from raygate import kuberay
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG354",
    name="ray-head-not-ready",
    layer="infrastructure",
    severity="error",
    kinds=("RayCluster",),
    needs="runtime",
    title="Ray head pod missing, not ready, or not running as the RayCluster asks",
    rationale="""
        The Dashboard, Jobs API, Ray Client and Serve all end at the head pod. When it is
        missing (suspended cluster, failed reconcile), Pending or crash-looping, every route
        through the gateway fails although the gateway is fine, and the controller logs
        missing endpoints. KubeRay reports the head in status (state, HeadPodReady condition,
        head.podName, head.serviceName), and the head pod's environment shows whether token
        auth is really on.
    """,
    fix=("Bring the head pod to Ready (`kubectl describe pod` on it, and the KubeRay operator "
         "log), then re-run raygate doctor."),
    references=("https://docs.ray.io/en/latest/cluster/kubernetes/troubleshooting/troubleshooting.html",),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate import runtime as rt

    if obj.group != "ray.io":
        return
    state = rt.state_of(ctx.runtime, ctx.objects)
    yield from _head_pod(obj, ctx, state)
    service = obj.get("status", "head", "serviceName")
    if isinstance(service, str) and state.saw("Service") and \
            ctx.objects.get("Service", obj.namespace, service) is None:
        yield ctx.finding(
            obj, ("status", "head", "serviceName"),
            f"KubeRay reports head Service {service}, but no such Service exists in "
            f"{obj.namespace}; every route to it has no backend.",
            fix="Let KubeRay recreate the head Service (check the operator log), or point routes "
                "at the head Service that exists.",
            symptom=f'controller log: Error getting Service "{obj.namespace}/{service}": '
                    "no object matching key")


def _head_pod(obj: KubeObject, ctx: Context, state: rt.RuntimeState) -> Iterable[Finding]:
    from raygate import runtime as rt

    if obj.spec.get("suspend") is True:
        yield ctx.finding(obj, ("spec", "suspend"),
                          f"RayCluster {obj.name} is suspended (spec.suspend: true): it has no "
                          "head pod, so every route to it is down.",
                          fix="Set spec.suspend to false if the cluster should serve traffic.",
                          symptom="HTTP 503 from the gateway; Ray Client connection refused")
        return
    if state.saw("Pod"):
        pods = rt.head_pods(ctx.objects, obj)
        if not pods:
            yield ctx.finding(obj, ("status", "head"),
                              f"RayCluster {obj.name} has no head pod (state: "
                              f"{obj.status.get('state') or 'unknown'}).",
                              symptom="HTTP 503 from the gateway; Ray Client connection refused")
            return
        ready = [p for p in pods if rt.pod_ready(p)]
        if not ready:
            p = pods[0]
            yield ctx.finding(obj, ("status", "head", "podName"),
                              f"head pod {p.name} of RayCluster {obj.name} is not ready: "
                              f"{rt.pod_trouble(p)}.",
                              symptom="HTTP 503 from the gateway; Ray Client connection refused")
            return
        yield from _auth(obj, ctx, ready[0])
        return
    # No Pods read: KubeRay's own status is the evidence.
    cond = rt.condition(obj, "HeadPodReady")
    if cond is not None and str(cond.get("status")) == "False":
        yield ctx.finding(obj, ("status", "conditions"),
                          f"KubeRay reports the head of {obj.name} not ready: "
                          f"{cond.get('reason') or ''} {cond.get('message') or ''}".rstrip() + ".",
                          symptom="HTTP 503 from the gateway; Ray Client connection refused")


def _auth(obj: KubeObject, ctx: Context, pod: KubeObject) -> Iterable[Finding]:
    from raygate import runtime as rt

    if kuberay.auth_mode(obj) != "token":
        return
    containers = rt.as_list(pod.spec.get("containers"))
    env = rt.as_list(containers[0].get("env")) if containers and isinstance(containers[0], dict) else []
    mode = next((str(e.get("value") or "") for e in env
                 if isinstance(e, dict) and e.get("name") == "RAY_AUTH_MODE"), "")
    if mode.lower() != "token":
        yield ctx.finding(
            obj, ("spec", "authOptions"),
            f"RayCluster {obj.name} asks for token auth, but its running head pod {pod.name} was "
            f"started without RAY_AUTH_MODE=token (it is {mode or 'unset'}), so the Dashboard "
            "and Ray Client accept anyone.",
            severity="warning",
            fix="Delete the head pod so KubeRay recreates it with token auth (KubeRay >= 1.5.1).",
            symptom="requests without a token succeed")
