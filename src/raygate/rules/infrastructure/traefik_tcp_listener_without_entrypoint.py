"""RG366 traefik-tcp-listener-without-entrypoint: a Gateway listener port that no Traefik
entryPoint listens on.

Traefik binds only the ports of its static entryPoints; its Gateway provider maps a listener to
the entryPoint with the same port, and a listener whose port has none is never served
(traefik/traefik#8974; Traefik v3.8 Kubernetes Gateway provider docs). Ray Client's TCP listener
(10001) is the usual miss: the Helm chart's defaults only open ``web`` and ``websecure``. The
rule reads the entryPoints from the Traefik workload's ``--entryPoints.<name>.address=:<port>``
arguments and judges only when that workload is in the inputs.
"""

from __future__ import annotations

import re
from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject, ObjectSet
from raygate.rules import Context, rule

_ENTRYPOINT = re.compile(r"^--entrypoints\.([^.=]+)\.address=(?:[^:]*):(\d+)(?:/(tcp|udp))?$", re.I)


def entrypoints(objects: ObjectSet) -> dict[int, str] | None:
    """port -> entryPoint name over every Traefik workload in the inputs; None when none is."""
    found: dict[int, str] | None = None
    for w in objects.of_kind("Deployment", "DaemonSet", "StatefulSet"):
        pod = (w.spec.get("template") or {}).get("spec") or {}
        for c in pod.get("containers") or []:
            if not isinstance(c, dict) or "traefik" not in str(c.get("image", "")):
                continue
            found = {} if found is None else found
            for arg in list(c.get("args") or []) + list(c.get("command") or []):
                m = _ENTRYPOINT.match(str(arg))
                if m:
                    found[int(m.group(2))] = m.group(1)
    return found


@rule(
    code="RG366",
    name="traefik-tcp-listener-without-entrypoint",
    layer="infrastructure",
    severity="error",
    kinds=("Gateway",),
    title="Gateway listener on Traefik whose port has no static entryPoint",
    rationale="""
        Traefik opens only the ports of the entryPoints in its static configuration, and its
        Gateway provider serves a listener on the entryPoint with the same port. A TCP listener
        for Ray Client on a port without an entryPoint is accepted and never bound: the port is
        closed and ray.init("ray://...") times out. Adding the entryPoint needs a restart of
        Traefik with the new argument (or Helm ports entry).
    """,
    fix="Add an entryPoint with the listener's port to Traefik's static configuration "
        "(--entryPoints.<name>.address=:<port>/tcp, or a ports entry in the Helm values).",
    references=("https://github.com/traefik/traefik/issues/8974",
                "https://doc.traefik.io/traefik/v3.8/reference/install-configuration/providers/kubernetes/kubernetes-gateway/"),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.backends.gateway_api import attachment
    from raygate.backends.gateway_api import dataplane

    if not obj.api_version.startswith(attachment.GROUP + "/"):
        return
    dp = dataplane.for_gateway(ctx.objects, obj)
    if dp.implementation is None or dp.implementation.key != "traefik":
        return
    ports = entrypoints(ctx.objects)
    if ports is None:
        return
    for listener in attachment.listeners_of_parent(ctx.objects, obj):
        if isinstance(listener.port, int) and listener.port not in ports:
            yield ctx.finding(obj, listener.field + ("port",),
                              f"listener {listener.name} ({listener.protocol} {listener.port}) has "
                              f"no Traefik entryPoint on port {listener.port} (entryPoints: "
                              + (", ".join(f"{n} :{p}" for p, n in sorted(ports.items())) or "none")
                              + "): Traefik never binds it")
