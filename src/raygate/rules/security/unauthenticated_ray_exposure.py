"""RG104 unauthenticated-ray-exposure: a Ray head reachable from outside without token auth.

The Ray Dashboard/Jobs API (8265), Ray Client (10001) and GCS (6379) execute whatever code a
caller sends (facts: kuberay_ray.md §7, Ray security doc: "anybody who can access the associated
ports can execute arbitrary code on your Ray Cluster"). Unauthenticated job submission is
CVE-2023-48022, exploited in the wild as "ShadowRay". Since Ray 2.52 token auth closes that door,
and KubeRay >= 1.5.1 turns it on with ``spec.authOptions.mode: token`` (§4.3); KubeRay clusters
without it stay unauthenticated even on Ray 2.59 (§4.5). This rule reports the object that opens
the path in (Ingress, tcp-services entry, LoadBalancer/NodePort Service, Gateway API HTTPRoute,
GRPCRoute, TCPRoute or TLSRoute, or the Ray CR's own ``headService``/``serviceType``/``enableIngress``). Heads KubeRay
does not run (model/heads.py: a ``ray start --head`` workload, the old Ray chart's
``<release>-ray-head``, a Service on Ray's port numbers) are reported too, with raygate's
confidence and evidence: as an error when their auth is known to be off (``RAY_AUTH_MODE`` not
``token``, or a Ray image older than 2.52, which has no token auth), else as a warning that says
auth cannot be known from the inputs. Serve (8000) is the data plane and needs no token.
"""

from __future__ import annotations

from typing import Any, Iterable

from raygate import kuberay
from raygate.findings import Finding
from raygate.model import heads, protections
from raygate.objects import KubeObject
from raygate.rules import Context, rule
from raygate.rules.security import _ray_reach as reach

_WHAT = {"dashboard": "Ray Dashboard and Jobs API (POST /api/jobs/ runs any entrypoint)",
         "client": "Ray Client (ray:// runs any Python code)",
         "gcs-server": "Ray GCS (the cluster's control plane)"}


def _auth_state(ray: KubeObject) -> str:
    """Why ``ray`` is unauthenticated, in the user's terms."""
    options = kuberay.cluster_spec(ray).get("authOptions")
    if isinstance(options, dict):
        return f"spec.authOptions.mode is {options.get('mode')!s}"
    envs = kuberay.head_container(ray).get("env")
    for env in envs if isinstance(envs, list) else []:
        if isinstance(env, dict) and env.get("name") == "RAY_AUTH_MODE":
            version = heads.ray_version(kuberay.head_container(ray).get("image"))
            if str(env.get("value")).lower() == "token" and version is not None \
                    and version < heads.TOKEN_AUTH_SINCE:
                return (f"RAY_AUTH_MODE is 'token' on the head, but its image is Ray "
                        f"{version[0]}.{version[1]}, older than token auth (2.52)")
            return f"RAY_AUTH_MODE is {env.get('value')!r} on the head"
    return "it has no spec.authOptions and no RAY_AUTH_MODE=token on the head"


def _fix(ray: KubeObject) -> str:
    return (f"Set spec.authOptions.mode: token on {ray.kind} {ray.namespace}/{ray.name} (KubeRay "
            ">= 1.5.1, Ray >= 2.52) and put gateway authentication in front of it as well.")


@rule(
    code="RG104",
    name="unauthenticated-ray-exposure",
    layer="security",
    severity="error",
    kinds=reach.EXPOSING_KINDS + ("RayCluster", "RayService", "RayJob"),
    title="Ray head reachable from outside the cluster without token authentication",
    rationale="""
        Ray executes the code its callers send: a job submitted to the Dashboard's Jobs API
        (`POST /api/jobs/`), a `ray://` Ray Client session or a GCS call all run arbitrary
        commands on the cluster. Ray's own security guidance is that anybody who can reach these
        ports can execute arbitrary code. Unauthenticated job submission is CVE-2023-48022
        (CVSS 9.8), mass-exploited as "ShadowRay" for cryptomining and credential theft. Since
        Ray 2.52 token authentication requires a bearer token on the Dashboard, Jobs API, Ray
        Client and GCS; KubeRay >= 1.5.1 enables it with `spec.authOptions.mode: token` and
        manages the Secret. KubeRay clusters without it stay open, also on newer Ray versions.
        An Ingress, tcp-services entry, Gateway API route (HTTPRoute, GRPCRoute, TCPRoute,
        TLSRoute) or LoadBalancer/NodePort Service in front of such a cluster hands remote code execution to anyone who can reach
        the gateway. Serve applications (port 8000) are not covered: they are the data plane
        and need no token. Ray's mutual TLS (`RAY_USE_TLS` with a CA) protects the Ray Client
        and GCS gRPC ports, not the Dashboard. When the gateway itself authenticates the route
        (oauth2-proxy via `auth-url`, basic auth, client certificates, ALB Cognito/OIDC, an
        Envoy Gateway SecurityPolicy) the finding is information only, and a source allowlist
        alone makes it a warning.
    """,
    fix=("Set spec.authOptions.mode: token on the RayCluster (KubeRay >= 1.5.1, Ray >= 2.52) "
         "and keep gateway authentication in front of the Dashboard and Ray Client."),
    references=(
        "https://docs.ray.io/en/latest/ray-security/index.html",
        "https://docs.ray.io/en/latest/ray-security/token-auth.html",
        "https://nvd.nist.gov/vuln/detail/CVE-2023-48022",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    for e in reach.exposures_of(ctx.objects, obj):
        ray = reach.ray_behind(ctx.objects, e)
        role = reach.port_role(e, ray)
        if role not in reach.TOKEN_GUARDED or not reach.carries(e, role):
            continue  # a GRPCRoute to the Dashboard gets no call through (RG268)
        if ray is not None:
            guards = protections.for_exposure(ctx.objects, e, ray).guarding(role)
            if any(g.kind in RAY_SIDE for g in guards):
                continue  # Ray itself checks every caller (token, or client certificates)
            what = (f"{reach.how(e)} reaches the {_WHAT[role]} of {ray.kind} "
                    f"{ray.namespace}/{ray.name}")
            if any(p.kind == "ray-tls" for p in protections.cluster_protections(ray)):
                # Ray's TLS is on its gRPC servers only: say why it does not count here.
                what += (" (its Ray TLS guards only the gRPC ports, Ray Client and GCS, not the "
                         "Dashboard's HTTP)" if role == "dashboard" else
                         " (its Ray TLS is bypassed: the Ingress re-opens TLS to Ray with its "
                         "own client certificate, proxy-ssl-secret)")
            yield _judge(ctx, obj, e.field, f"{what}, which has no token auth "
                         f"({_auth_state(ray)})", guards, fix=_fix(ray),
                         defence=_defence(ray), port=role)
        elif e.head is not None:
            yield from _plain_head(obj, ctx, e, role)
    yield from _declared(obj, ctx)


def _plain_head(obj: KubeObject, ctx: Context, e: Any, role: str) -> Iterable[Finding]:
    """A head KubeRay does not run (a ``ray start --head`` workload, a chart-named or
    port-numbered Service): error only when its auth is known to be off."""
    head = e.head
    if head.head.auth == "token":
        return
    if head.head.auth == "unknown" and (head.head.source is None
                                        or head.head.source.kind == "Service"):
        return  # nothing in the inputs shows the head's program: its auth cannot be judged
    guards = protections.for_exposure(ctx.objects, e).guarding(role)
    what = f"{reach.how(e)} reaches the {_WHAT[role]} of {head.head.label}{head.note()}"
    if head.head.auth == "disabled":
        yield _judge(ctx, obj, e.field, f"{what}, which has no token auth "
                     f"({head.head.auth_reason})", guards, fix=_PLAIN_FIX,
                     defence=_PLAIN_DEFENCE, port=role, confidence=head.confidence)
        return
    if any(g.kind == "gateway-auth" for g in guards):
        yield _judge(ctx, obj, e.field, f"{what}; whether it requires a token cannot be known "
                     f"from the inputs ({head.head.auth_reason})", guards, fix=_PLAIN_FIX,
                     defence=_PLAIN_DEFENCE, port=role, confidence=head.confidence)
        return
    yield ctx.finding(
        obj, e.field,
        f"{what}; whether it requires a token cannot be known from the inputs "
        f"({head.head.auth_reason}): without token auth anybody who can reach it can execute "
        "arbitrary code on the cluster (CVE-2023-48022)",
        severity="warning", fix=_PLAIN_FIX, port=role, confidence=head.confidence)


_PLAIN_FIX = ("Run the head with RAY_AUTH_MODE=token (Ray >= 2.52) or under KubeRay with "
              "spec.authOptions.mode: token, and put gateway authentication in front of it "
              "as well.")
_PLAIN_DEFENCE = ("Keep the gateway authentication and also run the head with "
                  "RAY_AUTH_MODE=token (Ray >= 2.52) as defence in depth.")


def _defence(ray: KubeObject) -> str:
    return (f"Keep the gateway authentication and also set spec.authOptions.mode: token on "
            f"{ray.kind} {ray.namespace}/{ray.name} (KubeRay >= 1.5.1, Ray >= 2.52) as "
            "defence in depth.")


def _declared(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    """What the Ray CR itself asks KubeRay to publish (headService/serviceType, enableIngress)."""
    if kuberay.is_ray(obj):
        own = protections.cluster_protections(obj)
        for cr in reach.cr_exposures(ctx.objects, obj):
            open_roles = [r for r in reach.TOKEN_GUARDED if r in cr.roles
                          and not any(p.guards_role(r) for p in own)]
            if not open_roles:
                continue
            ports = ", ".join(f"{r} {cr.roles[r]}" for r in open_roles)
            gateway = protections.built_in_ingress_protections(ctx.objects, obj) \
                if cr.field[-1] == "enableIngress" else ()
            yield _judge(ctx, obj, cr.field,
                         f"KubeRay publishes {cr.description} ({ports}) outside the cluster "
                         f"while {_auth_state(obj)}", gateway, fix=_fix(obj),
                         defence=_defence(obj), ports=open_roles)


#: Protections enforced by Ray itself, which every way in meets.
RAY_SIDE = ("ray-token", "k8s-token", "ray-tls")


def _judge(ctx: Context, obj: KubeObject, field: tuple, what: str,
           guards: Iterable[protections.Protection], *, fix: str, defence: str,
           **extra: object) -> Finding:
    """Error when nothing guards the port; warning when only a source allowlist does; info when
    the gateway authenticates (Ray's token would still be the defence in depth). ``what`` says
    what is reached and why Ray lets anybody in."""
    guards = tuple(guards)
    auth = [g for g in guards if g.kind == "gateway-auth"]
    allow = [g for g in guards if g.kind == "allowlist"]
    if auth:
        return ctx.finding(
            obj, field,
            f"{what}; it relies on the gateway's {auth[0].describe()}: anything that reaches "
            "the head without passing the gateway (another pod, a second route) can still "
            "execute arbitrary code",
            severity="info", fix=defence, protected_by=auth[0].kind, **extra)
    if allow:
        return ctx.finding(
            obj, field,
            f"{what}; only a {allow[0].describe()} limits who can reach it: anybody inside "
            "those networks can execute arbitrary code on the cluster (CVE-2023-48022)",
            severity="warning", fix=fix, protected_by="allowlist", **extra)
    return ctx.finding(
        obj, field,
        f"{what}: anybody who can reach it can execute arbitrary code on the cluster "
        "(CVE-2023-48022)", fix=fix, **extra)
