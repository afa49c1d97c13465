"""RG303 host-network-without-cluster-dns: a hostNetwork gateway that cannot resolve Services.

A pod with ``hostNetwork: true`` and the default ``dnsPolicy: ClusterFirst`` silently falls back
to the node's resolver (``Default``): cluster names such as
``ray-cluster-kuberay-head-svc.raycluster.svc.cluster.local`` stop resolving. The ingress-nginx
bare-metal guide says so and recommends ``ClusterFirstWithHostNet``; the seed guide's Pinned
Gateway (step 3) sets it next to ``hostNetwork: true`` (facts: ingress_nginx.md §8, "DNS").
ingress-nginx routes to Endpoints, not names, so plain Ingress backends keep working; what
breaks is everything that resolves a name: ExternalName Services, ``auth-url`` pointing at an
in-cluster Service, and custom proxies configured with Service DNS names.
"""

from __future__ import annotations

from typing import Iterable

from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule

WANTED = "ClusterFirstWithHostNet"


@rule(
    code="RG303",
    name="host-network-without-cluster-dns",
    layer="infrastructure",
    severity="warning",
    kinds=("Deployment", "DaemonSet"),
    title="hostNetwork gateway without dnsPolicy ClusterFirstWithHostNet",
    rationale="""
        Pods on the host network do not use the cluster DNS (CoreDNS/kube-dns) unless their
        `dnsPolicy` is `ClusterFirstWithHostNet`; with the default `ClusterFirst` Kubernetes
        quietly gives them the node's `/etc/resolv.conf` instead. The gateway then cannot
        resolve `<service>.<namespace>.svc` names: ExternalName backends, `auth-url` endpoints
        inside the cluster and proxies configured with Service names fail with resolver
        errors, only on the gateway and only after hostNetwork was switched on. The Pinned
        Gateway sets `dnsPolicy: ClusterFirstWithHostNet` together with `hostNetwork: true`.
    """,
    fix="Set dnsPolicy: ClusterFirstWithHostNet next to hostNetwork: true in the pod template.",
    references=(
        "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/#via-the-host-network",
        "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-dns-policy",
    ),
    errors=(
        "<name> could not be resolved (3: Host not found)",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    from raygate.rules.infrastructure import _placement as place

    if not place.host_network(obj) or not place.is_gateway(ctx.objects, obj):
        return
    spec = place.pod_spec(obj)
    policy = spec.get("dnsPolicy")
    if policy == WANTED:
        return
    if policy == "None" and isinstance(spec.get("dnsConfig"), dict) \
            and spec["dnsConfig"].get("nameservers"):
        return  # resolvers configured explicitly: the author chose them on purpose
    if policy is None:
        yield ctx.finding(
            obj, ("spec", "template", "spec", "hostNetwork"),
            f"{obj.kind} {obj.name} uses hostNetwork with the default dnsPolicy ClusterFirst, "
            "which Kubernetes turns into the node's resolver: cluster Service names "
            "(<service>.<namespace>.svc) do not resolve from the gateway")
        return
    yield ctx.finding(
        obj, ("spec", "template", "spec", "dnsPolicy"),
        f"{obj.kind} {obj.name} uses hostNetwork with dnsPolicy {policy}: only "
        f"{WANTED} gives a host-network pod the cluster DNS, so Service names "
        "(<service>.<namespace>.svc) do not resolve from the gateway")
