"""RG301 service-external-ips: a Service that is reached through hard-coded ``spec.externalIPs``.

This is the seed guide's third root cause ("The Static IP Problem"): the gateway Service listed
several node IPs in ``externalIPs``; kube-proxy only delivers traffic for such an IP on the node
that owns it (facts: ingress_nginx.md §8, "These IP addresses must belong to the target node"),
so when a node's IP changed or the controller moved, the entry point silently broke. The field
is also CVE-2020-8554 (anyone allowed to create a Service can claim any IP and intercept its
traffic; no in-tree fix) and is deprecated by KEP-5707 from Kubernetes v1.36, with kube-proxy
planned to stop programming it (facts: gateway_api_metallb.md §7). The pinned node (hostNetwork
+ nodeSelector) or MetalLB's ``metallb.io/loadBalancerIPs`` give a stable address instead
(facts: gateway_api_metallb.md §6.3).
"""

from __future__ import annotations

from typing import Iterable

from raygate import kuberay
from raygate.findings import Finding
from raygate.objects import KubeObject
from raygate.rules import Context, rule


@rule(
    code="RG301",
    name="service-external-ips",
    layer="infrastructure",
    severity="warning",
    kinds=("Service",),
    title="Service entry point hard-coded with spec.externalIPs",
    rationale="""
        `spec.externalIPs` tells kube-proxy to accept traffic for those addresses on the
        Service ports, but only a node that really owns the address ever receives it. The list
        is written by hand, so it drifts: when a node is replaced, readdressed by DHCP, or the
        controller pod moves, the gateway stops answering although every object still looks
        healthy ("it worked yesterday"). Several IPs make it worse: each one is another node
        that must keep its address. The field is also a known man-in-the-middle vector
        (CVE-2020-8554, unfixed in Kubernetes) and is deprecated from v1.36 (KEP-5707), with
        kube-proxy planned to stop honouring it. A pinned gateway node (hostNetwork plus a
        nodeSelector on one labelled node) or a LoadBalancer Service with MetalLB gives one
        address that the cluster itself keeps valid.
    """,
    fix=("Remove spec.externalIPs: pin the gateway to one labelled node (hostNetwork: true plus "
         "a nodeSelector) or make the Service type LoadBalancer and request the address from "
         "MetalLB with the metallb.io/loadBalancerIPs annotation."),
    references=(
        "https://kubernetes.github.io/ingress-nginx/deploy/baremetal/#external-ips",
        "https://github.com/kubernetes/kubernetes/issues/97076",
        "https://github.com/kubernetes/enhancements/tree/master/keps/sig-network/5707-deprecate-service-externalips",
        "https://metallb.io/usage/",
    ),
)
def check(obj: KubeObject, ctx: Context) -> Iterable[Finding]:
    ips = obj.spec.get("externalIPs")
    if not ips:
        return
    listed = [str(ip) for ip in ips] if isinstance(ips, list) else [str(ips)]
    first_ip = listed[0]
    is_ray = kuberay.is_head_service(ctx.objects, obj)
    what = "the Ray head" if is_ray else f"Service {obj.namespace}/{obj.name}"
    if len(listed) > 1:
        message = (f"{what} is reached through {len(listed)} hand-written externalIPs "
                   f"({', '.join(listed)}): each must stay the IP of a node running a backend, "
                   "so any node change or reschedule breaks that entry point")
    else:
        message = (f"{what} is reached through the hand-written externalIP {first_ip}: it stops "
                   "working as soon as that node's IP changes or the node is replaced")
    message += "; externalIPs is also CVE-2020-8554 and deprecated since Kubernetes v1.36"
    fix = None
    if obj.spec.get("type") == "LoadBalancer":
        fix = (f"Remove spec.externalIPs and ask MetalLB for the address instead: annotate the "
               f"Service with metallb.io/loadBalancerIPs: \"{first_ip}\" (the IP must come from "
               "an IPAddressPool, not from a node).")
    yield ctx.finding(obj, ("spec", "externalIPs"), message, fix=fix)
